/**
 * Reauth (step-up) tokens: proof that the caller gave the password and a second factor again a
 * moment ago, for one sensitive change.
 *
 *  - 32 random bytes, base64url; only their SHA-256 is stored (reauth_tokens), so a database
 *    reader cannot use one;
 *  - bound to the session that asked for it AND its account: presented by any other session it is
 *    as unknown as a made-up one;
 *  - lives REAUTH_TOKEN_TTL_SECONDS (5 minutes) at most;
 *  - spent by `spendReauthToken` inside the transaction of the change (UPDATE … WHERE spent_at IS
 *    NULL): of two changes racing with one token, the second waits for the first's row lock and
 *    then finds it spent, and a change that rolls back (storage failure) leaves it unspent.
 *    Changes validate their input BEFORE spending, so a malformed request does not burn it.
 *
 * Failure reasons (ErrorInfo; the message is the one generic one): unknown, malformed or another
 * session's token TOKEN_INVALID, expired TOKEN_EXPIRED, spent TOKEN_REUSED.
 */
import { createHash, randomBytes } from "node:crypto";
import { type CypherError, unauthenticated } from "../errors.js";
import type { Db } from "../storage/database.js";
import { findReauthToken, insertReauthToken, markReauthTokenSpent, type ReauthTokenRow } from "../storage/reauth-token-store.js";

export const REAUTH_TOKEN_TTL_SECONDS = 300;
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface ReauthBinding {
  sessionId: string;
  userId: string;
}

function hashToken(token: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(token).digest());
}

/** Issues a token for `binding`, valid until `at` + 5 minutes; removes the account's dead ones. */
export async function issueReauthToken(trx: Db, binding: ReauthBinding, at: Date): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  const expiresAt = new Date(at.getTime() + REAUTH_TOKEN_TTL_SECONDS * 1000);
  // Housekeeping on the way: the store drops the account's spent and expired tokens.
  await insertReauthToken(trx, { hash: hashToken(token), userId: binding.userId, sessionId: binding.sessionId, createdAt: at, expiresAt });
  return { token, expiresAt };
}

/** Throws Unauthenticated unless `token` is a live, unspent token of `binding`. Spends nothing. */
export async function checkReauthToken(db: Db, token: string, binding: ReauthBinding, at: Date): Promise<void> {
  if (!TOKEN_PATTERN.test(token)) throw unauthenticated("TOKEN_INVALID");
  const row = await findReauthToken(db, hashToken(token));
  const refusal = refusalOf(row, binding, at);
  if (refusal) throw refusal;
}

/**
 * Spends `token` for `binding`, atomically; throws Unauthenticated (rolling the caller's
 * transaction back) when it is not a live, unspent token of this session and account.
 */
export async function spendReauthToken(trx: Db, token: string, binding: ReauthBinding, at: Date): Promise<void> {
  if (!TOKEN_PATTERN.test(token)) throw unauthenticated("TOKEN_INVALID");
  const hash = hashToken(token);
  if (await markReauthTokenSpent(trx, hash, binding, at)) return;
  const row = await findReauthToken(trx, hash);
  throw refusalOf(row, binding, at) ?? unauthenticated("TOKEN_INVALID");
}

function refusalOf(
  row: ReauthTokenRow | undefined,
  binding: ReauthBinding,
  at: Date,
): CypherError | null {
  // Another session's token says nothing about this one: as unknown as a made-up token.
  if (!row || row.sessionId !== binding.sessionId || row.userId !== binding.userId) return unauthenticated("TOKEN_INVALID");
  if (row.spentAt !== null) return unauthenticated("TOKEN_REUSED");
  if (row.expiresAt.getTime() <= at.getTime()) return unauthenticated("TOKEN_EXPIRED");
  return null;
}
