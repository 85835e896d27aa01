/**
 * CreateSession: a login token (password proven by OPAQUE) plus a second factor become a session.
 *
 *   1. the login token: signature, expiry, purpose "login"; claims `sub` (user id), `username`;
 *   2. claimed in the KV store for this attempt (single use, burnt after N wrong codes);
 *   3. one attempt reserved on the account's second-factor count (second-factor-lockout.ts):
 *      refused with ResourceExhausted, before any code is checked, while the account is locked out;
 *      taken back when the call fails before the code is judged (an outage, a lock meanwhile);
 *   4. one PostgreSQL transaction: the account (active, not locked, with TOTP), the second factor spent,
 *      the session row, its first refresh-token row, a new device credential (its token is the
 *      response's device_token, see device-credential-store.ts), the audit entry;
 *   5. the cache entry written, so the first VerifySession needs no database.
 */
import { randomUUID } from "node:crypto";
import { issuedBeforePasswordChange } from "../account/reauthenticate.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { unauthenticated } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DomainMetrics } from "../metrics/domain-metrics.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import { isLocked } from "../storage/account-lock-store.js";
import { insertRefreshToken } from "../storage/refresh-token-store.js";
import { lockActiveAccount } from "../storage/user-store.js";
import type { ClientContext } from "../client-context.js";
import type { TokenService } from "../tokens/token-service.js";
import { insertDeviceCredential, newDeviceToken } from "./device-credential-store.js";
import type { LoginTokenGate } from "./login-token-gate.js";
import { spendSecondFactor, type SecondFactor } from "./second-factor.js";
import type { SecondFactorAttempt, SecondFactorLockout } from "./second-factor-lockout.js";
import type { SessionCache } from "./liveness/index.js";
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
  lockout: SecondFactorLockout;
  cache: SessionCache;
  totpEncryptionKey: Uint8Array;
  recoveryPepper: Uint8Array;
  metrics?: DomainMetrics;
}

export interface CreatedSession {
  session: SessionRecord;
  tokens: TokenPairTokens;
  /** The new device credential (see device-credential-store.ts); the token is shown only here. */
  deviceToken: { token: string; expiresAt: Date };
}

/** Thrown inside the transaction to roll it back when the second factor is wrong. */
class WrongSecondFactor extends Error {}

export async function createSession(
  deps: CreateSessionDeps,
  input: { loginToken: string; factor: SecondFactor; deviceName: string; meta: ClientContext },
): Promise<CreatedSession> {
  const login = await deps.tokens.verify("login", input.loginToken);
  const userId = login.claims.sub;
  if (!isUuid(userId)) throw unauthenticated("TOKEN_INVALID");
  const loginUsername = typeof login.claims.username === "string" ? login.claims.username : null;

  const claim = await deps.gate.claim(login.jti, login.expiresAt);
  let attempt: SecondFactorAttempt;
  try {
    attempt = await deps.lockout.reserve({ userId, username: loginUsername, ip: input.meta.ip, userAgent: input.meta.userAgent });
  } catch (error) {
    // Locked out (or the KV store failed): the token was not at fault and stays usable.
    await claim.release().catch((releaseError: unknown) => deps.logger.warn("could not release a login token claim", { error: releaseError }));
    throw error;
  }
  const now = deps.clock.now();
  let result: CreatedSession;
  try {
    result = await deps.db.transaction().execute(async (trx) => {
      // The row stays locked until commit: a LockUser or DeleteUser (which lock it first) waits
      // for this session and then ends it, or this call waits for them and then finds the lock
      // (read by the next statement, which sees what they committed) or no account.
      const account = await lockActiveAccount(trx, userId);
      if (!account || account.totpSecretEncrypted === null) throw unauthenticated("TOKEN_INVALID");
      if (await isLocked(trx, account.id)) throw unauthenticated("TOKEN_INVALID");
      // A login token proves the password it was issued for: not one replaced since (ChangePasswordFinish).
      if (issuedBeforePasswordChange(login.issuedAt, account.passwordChangedAt)) throw unauthenticated("TOKEN_INVALID");

      const spent = await spendSecondFactor(trx, {
        account: { id: account.id, totpSecretEncrypted: account.totpSecretEncrypted, totpLastUsedStep: account.totpLastUsedStep },
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
      const device = newDeviceToken();
      const deviceExpiresAt = new Date(wholeSeconds(now).getTime() + deps.config.deviceTokenTtlSeconds * 1000);
      await insertDeviceCredential(trx, {
        userId: session.userId,
        tokenHash: device.hash,
        deviceName: session.deviceName,
        createdAt: now,
        expiresAt: deviceExpiresAt,
      });
      await insertRefreshToken(trx, {
        id: tokens.refresh.jti,
        sessionId: session.id,
        generation: 0,
        tokenHash: tokenHash(tokens.refresh.token),
        issuedAt: tokens.refresh.issuedAt,
        expiresAt: tokens.refresh.expiresAt,
      });
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
      return { session, tokens, deviceToken: { token: device.token, expiresAt: deviceExpiresAt } };
    });
  } catch (error) {
    if (error instanceof WrongSecondFactor) {
      const { burnt, failures } = await claim.failed();
      const account = await attempt.failed();
      deps.metrics?.count("login.second_factor_rejected");
      if (burnt || account.lockedOut) deps.metrics?.count("login.second_factor_capped");
      await recordAudit(deps.db, {
        at: now,
        event: "login.failed",
        userId,
        username: loginUsername,
        ip: input.meta.ip,
        userAgent: input.meta.userAgent,
        details: {
          reason: "second_factor",
          second_factor: input.factor.kind,
          failures,
          burnt,
          account_failures: account.failures,
          account_locked_out: account.lockedOut,
          jti: login.jti,
        },
      });
      throw unauthenticated("SECOND_FACTOR_INVALID");
    }
    // Nothing was committed and no code was judged: the token may be tried again, and the attempt
    // does not count. (A release that fails leaves the token claimed until it expires, which only
    // costs the user a new login; a count left behind ages out with its window.)
    await claim.release().catch((releaseError: unknown) => deps.logger.warn("could not release a login token claim", { error: releaseError }));
    await attempt.abandoned().catch((abandonError: unknown) => deps.logger.warn("could not take back a second-factor attempt", { error: abandonError }));
    throw error;
  }

  // Best effort: a count left behind only makes a later lockout come sooner, within its window.
  await attempt.succeeded().catch((error: unknown) => deps.logger.warn("could not clear a second-factor count", { error }));
  // Best effort: the session is committed; a cache that cannot be written now is restored from
  // PostgreSQL by the first VerifySession.
  await deps.cache.fill(result.session).catch((error: unknown) => deps.logger.warn("could not cache a new session", { error }));
  deps.metrics?.count("login.succeeded");
  return result;
}
