/**
 * The `reauth_tokens` table: the SHA-256 of each step-up token (account/reauth-token.ts), bound to
 * one session and account. Plain functions taking the db (or a transaction) first.
 */
import type { Db } from "./database.js";

export interface ReauthTokenRow {
  sessionId: string;
  userId: string;
  expiresAt: Date;
  spentAt: Date | null;
}

/** Stores a new token's hash; first removes the account's spent and expired ones (of no further use). */
export async function insertReauthToken(
  trx: Db,
  token: { hash: Uint8Array; userId: string; sessionId: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await trx
    .deleteFrom("reauth_tokens")
    .where("user_id", "=", token.userId)
    .where((eb) => eb.or([eb("spent_at", "is not", null), eb("expires_at", "<=", token.createdAt)]))
    .execute();
  await trx
    .insertInto("reauth_tokens")
    .values({ token_hash: token.hash, user_id: token.userId, session_id: token.sessionId, created_at: token.createdAt, expires_at: token.expiresAt })
    .execute();
}

export async function findReauthToken(db: Db, hash: Uint8Array): Promise<ReauthTokenRow | undefined> {
  const row = await db.selectFrom("reauth_tokens").select(["session_id", "user_id", "expires_at", "spent_at"]).where("token_hash", "=", hash).executeTakeFirst();
  return row ? { sessionId: row.session_id, userId: row.user_id, expiresAt: row.expires_at, spentAt: row.spent_at } : undefined;
}

/**
 * Spends the token if it is an unspent, unexpired token of this session and account (UPDATE … WHERE
 * spent_at IS NULL: of two racing spends, the second waits for the first's row lock, then finds it
 * spent). True if this call spent it.
 */
export async function markReauthTokenSpent(trx: Db, hash: Uint8Array, binding: { sessionId: string; userId: string }, at: Date): Promise<boolean> {
  const spent = await trx
    .updateTable("reauth_tokens")
    .set({ spent_at: at })
    .where("token_hash", "=", hash)
    .where("session_id", "=", binding.sessionId)
    .where("user_id", "=", binding.userId)
    .where("spent_at", "is", null)
    .where("expires_at", ">", at)
    .returning("token_hash")
    .executeTakeFirst();
  return spent !== undefined;
}

/** Removes the account's tokens except those of `keepSessionId`. */
export async function removeOtherSessionsReauthTokens(trx: Db, userId: string, keepSessionId: string): Promise<void> {
  await trx.deleteFrom("reauth_tokens").where("user_id", "=", userId).where("session_id", "!=", keepSessionId).execute();
}
