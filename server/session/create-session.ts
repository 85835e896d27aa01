/**
 * CreateSession: a login token (password proven by OPAQUE) plus a second factor become a session.
 *
 *   1. the login token: signature, expiry, purpose "login"; claims `sub` (user id), `username`;
 *   2. claimed in the KV store for this attempt (single use, burnt after N wrong codes);
 *   3. one PostgreSQL transaction: the account (active, with TOTP), the second factor spent,
 *      the session row, its first refresh-token row, the audit entry;
 *   4. the cache entry written, so the first VerifySession needs no database.
 */
import { randomUUID } from "node:crypto";
import { issuedBeforePasswordChange } from "../account/reauthenticate.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { unauthenticated } from "../errors.js";
import type { Logger } from "../logger.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { RequestMeta } from "../transport/request-meta.js";
import type { TokenService } from "../tokens/token-service.js";
import type { LoginTokenGate } from "./login-token-gate.js";
import { spendSecondFactor, type SecondFactor } from "./second-factor.js";
import type { SessionCache } from "./session-cache.js";
import { isUuid, type SessionRecord } from "./session-record.js";
import { insertSession } from "./session-store.js";
import { tokenHash, wholeSeconds, type SessionTokens, type TokenPairTokens } from "./session-tokens.js";

export interface CreateSessionDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: Config["tokens"];
  tokens: TokenService;
  sessionTokens: SessionTokens;
  gate: LoginTokenGate;
  cache: SessionCache;
  totpEncryptionKey: Uint8Array;
  recoveryPepper: Uint8Array;
}

/** Thrown inside the transaction to roll it back when the second factor is wrong. */
class WrongSecondFactor extends Error {}

export async function createSession(
  deps: CreateSessionDeps,
  input: { loginToken: string; factor: SecondFactor; deviceName: string; meta: RequestMeta },
): Promise<{ session: SessionRecord; tokens: TokenPairTokens }> {
  const login = await deps.tokens.verify("login", input.loginToken);
  const userId = login.claims.sub;
  if (!isUuid(userId)) throw unauthenticated("TOKEN_INVALID");

  const claim = await deps.gate.claim(login.jti, login.expiresAt);
  const now = deps.clock.now();
  let result: { session: SessionRecord; tokens: TokenPairTokens };
  try {
    result = await deps.db.transaction().execute(async (trx) => {
      const account = await trx
        .selectFrom("users")
        .select(["id", "username", "status", "totp_secret_encrypted", "totp_last_used_step", "password_changed_at"])
        .where("id", "=", userId)
        .executeTakeFirst();
      if (!account || account.status !== "active" || account.totp_secret_encrypted === null) throw unauthenticated("TOKEN_INVALID");
      // A login token proves the password it was issued for: not one replaced since (ChangePasswordFinish).
      if (issuedBeforePasswordChange(login.issuedAt, account.password_changed_at)) throw unauthenticated("TOKEN_INVALID");

      const spent = await spendSecondFactor(trx, {
        account: {
          id: account.id,
          totpSecretEncrypted: account.totp_secret_encrypted,
          // bigint: a string from pg; steps (~5.9e7 today) are far inside Number's range.
          totpLastUsedStep: account.totp_last_used_step === null ? null : Number(account.totp_last_used_step),
        },
        factor: input.factor,
        at: now,
        totpEncryptionKey: deps.totpEncryptionKey,
        recoveryPepper: deps.recoveryPepper,
      });
      if (!spent) throw new WrongSecondFactor();

      const session: SessionRecord = {
        id: randomUUID(),
        userId: account.id,
        username: account.username,
        deviceName: input.deviceName,
        createdAt: now,
        expiresAt: new Date(wholeSeconds(now).getTime() + deps.config.sessionMaxLifetimeSeconds * 1000),
        lastRefreshedAt: null,
        revokedAt: null,
      };
      const tokens = await deps.sessionTokens.issuePair(
        { sessionId: session.id, userId: session.userId, username: session.username, sessionExpiresAt: session.expiresAt },
        { jti: randomUUID(), generation: 0, issuedAt: now },
      );
      await insertSession(trx, session);
      await trx
        .insertInto("refresh_tokens")
        .values({
          id: tokens.refresh.jti,
          session_id: session.id,
          generation: 0,
          token_hash: tokenHash(tokens.refresh.token),
          issued_at: tokens.refresh.issuedAt,
          expires_at: tokens.refresh.expiresAt,
        })
        .execute();
      await recordAudit(trx, {
        at: now,
        event: "session.created",
        userId: session.userId,
        sessionId: session.id,
        username: session.username,
        ip: input.meta.ip,
        userAgent: input.meta.userAgent,
        details: { device_name: session.deviceName, second_factor: input.factor.kind, jti: login.jti },
      });
      return { session, tokens };
    });
  } catch (error) {
    if (error instanceof WrongSecondFactor) {
      const { burnt, failures } = await claim.failed();
      await recordAudit(deps.db, {
        at: now,
        event: "login.failed",
        userId,
        username: typeof login.claims.username === "string" ? login.claims.username : null,
        ip: input.meta.ip,
        userAgent: input.meta.userAgent,
        details: { reason: "second_factor", second_factor: input.factor.kind, failures, burnt, jti: login.jti },
      });
      throw unauthenticated("SECOND_FACTOR_INVALID");
    }
    // Nothing was committed: the token may be tried again. (A release that fails leaves the token
    // claimed until it expires, which only costs the user a new login.)
    await claim.release().catch((releaseError: unknown) => deps.logger.warn("could not release a login token claim", { error: releaseError }));
    throw error;
  }

  // Best effort: the session is committed; a cache that cannot be written now is restored from
  // PostgreSQL by the first VerifySession.
  await deps.cache.fill(result.session).catch((error: unknown) => deps.logger.warn("could not cache a new session", { error }));
  return result;
}
