/**
 * Reauthenticate: a fresh proof of both factors becomes a reauth token for one sensitive change.
 *
 *   1. the login token (from LoginInit/LoginFinish: the password proven again, under the login
 *      limits) must be valid and of the CALLER's account; another account's is TOKEN_INVALID;
 *   2. the per-account second-factor cap is asked before any code is tested;
 *   3. the login token is claimed in the same KV keys CreateSession uses (login-token-gate.ts):
 *      single use across both RPCs, burnt after the same number of wrong codes;
 *   4. one transaction: the account (active), the second factor checked and SPENT exactly as
 *      CreateSession spends it (second-factor.ts: a TOTP step once, a recovery code once), the
 *      reauth token stored, the audit entry.
 */
import type { SecondFactorAttempt } from "../session/second-factor-lockout.js";
import { unauthenticated } from "../errors.js";
import { spendSecondFactor, type SecondFactor } from "../session/second-factor.js";
import { wholeSeconds } from "../session/session-tokens.js";
import { recordAudit } from "../storage/audit-log.js";
import type { ClientContext } from "../client-context.js";
import type { AccountDeps, Caller } from "./account-deps.js";
import { lockActiveAccount } from "../storage/user-store.js";
import { issueReauthToken } from "./reauth-token.js";

/** Thrown inside the transaction to roll it back when the second factor is wrong. */
class WrongSecondFactor extends Error {}

export async function reauthenticate(
  deps: AccountDeps,
  caller: Caller,
  input: { loginToken: string; factor: SecondFactor },
  meta: ClientContext,
): Promise<{ token: string; expiresAt: Date }> {
  const login = await deps.tokens.verify("login", input.loginToken);
  if (login.claims.sub !== caller.userId) throw unauthenticated("TOKEN_INVALID");
  const claim = await deps.gate.claim(login.jti, login.expiresAt);
  let attempt: SecondFactorAttempt;
  try {
    attempt = await deps.secondFactorFailures.reserve({ userId: caller.userId, username: caller.username, ip: meta.ip, userAgent: meta.userAgent });
  } catch (error) {
    // Locked out (or the KV store failed): the login token was not at fault and stays usable.
    await claim.release().catch((releaseError: unknown) => deps.logger.warn("could not release a login token claim", { error: releaseError }));
    throw error;
  }
  const at = deps.clock.now();
  try {
    const issued = await deps.db.transaction().execute(async (trx) => {
      const account = await lockActiveAccount(trx, caller.userId);
      if (!account || account.totpSecretEncrypted === null) throw unauthenticated("TOKEN_INVALID");
      // A login token proves the password it was issued for: not one replaced since.
      if (issuedBeforePasswordChange(login.issuedAt, account.passwordChangedAt)) throw unauthenticated("TOKEN_INVALID");
      const spent = await spendSecondFactor(trx, {
        account: { id: account.id, totpSecretEncrypted: account.totpSecretEncrypted, totpLastUsedStep: account.totpLastUsedStep },
        factor: input.factor,
        at,
        totpEncryptionKey: deps.totpEncryptionKey,
        recoveryPepper: deps.recoveryPepper,
      });
      if (!spent) throw new WrongSecondFactor();
      const issued = await issueReauthToken(trx, { sessionId: caller.sessionId, userId: caller.userId }, at);
      await recordAudit(trx, {
        at,
        event: "account.reauthenticated",
        userId: caller.userId,
        sessionId: caller.sessionId,
        username: caller.username,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: { second_factor: input.factor.kind, jti: login.jti },
      });
      return issued;
    });
    await attempt.succeeded().catch((error: unknown) => deps.logger.warn("could not clear a second-factor count", { error }));
    return issued;
  } catch (error) {
    if (error instanceof WrongSecondFactor) {
      const { burnt, failures } = await claim.failed();
      await attempt.failed();
      await recordAudit(deps.db, {
        at,
        event: "account.reauthentication_failed",
        userId: caller.userId,
        sessionId: caller.sessionId,
        username: caller.username,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: { reason: "second_factor", second_factor: input.factor.kind, failures, burnt, jti: login.jti },
      });
      throw unauthenticated("SECOND_FACTOR_INVALID");
    }
    // No code was judged: the token may be tried again, and the attempt does not count.
    await claim.release().catch((releaseError: unknown) => deps.logger.warn("could not release a login token claim", { error: releaseError }));
    await attempt.abandoned().catch((abandonError: unknown) => deps.logger.warn("could not take back a second-factor attempt", { error: abandonError }));
    throw error;
  }
}

/**
 * Whether a login token was issued before the password last changed. `iat` has whole seconds, so
 * the change time is cut to its second: a token issued in the very second of the change passes.
 */
export function issuedBeforePasswordChange(issuedAt: Date, passwordChangedAt: Date | null): boolean {
  return passwordChangedAt !== null && issuedAt.getTime() < wholeSeconds(passwordChangedAt).getTime();
}
