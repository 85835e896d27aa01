/**
 * Changing the password = an OPAQUE re-registration for the caller's normalized username (the
 * credential identifier and server identity of RegisterInit), so the server never sees the new
 * password either. ChangePasswordInit checks the reauth token without spending it;
 * ChangePasswordFinish commits, in ONE transaction: the reauth token spent, the new record in place
 * of the old (the old password fails from the next LoginInit on), `password_changed_at`, the
 * account's device credentials revoked, other sessions' reauth tokens dropped, every OTHER session revoked (numbered for WatchRevocations,
 * announced to every instance after commit; the calling session stays) unless
 * `keepOtherSessions`, and the audit entry.
 */
import { checkRegistrationRecord, checkRegistrationRequest } from "../auth/opaque/opaque-messages.js";
import { QUEUE_FULL_RETRY_MS } from "../auth/opaque/opaque-worker-pool.js";
import { resourceExhausted, unauthenticated } from "../errors.js";
import { recordAudit } from "../storage/audit-log.js";
import type { ClientContext } from "../client-context.js";
import type { AccountDeps, Caller } from "./account-deps.js";
import { removeOtherSessionsReauthTokens } from "../storage/reauth-token-store.js";
import { replaceOpaqueRecord } from "../storage/user-store.js";
import { checkReauthToken, spendReauthToken } from "./reauth-token.js";
import { requireReauthToken } from "./required-fields.js";
import { validateAll } from "../auth/validation.js";

export async function changePasswordInit(
  deps: AccountDeps,
  caller: Caller,
  input: { reauthToken: string; registrationRequest: Uint8Array },
): Promise<{ registrationResponse: Uint8Array }> {
  const [token] = validateAll(
    () => requireReauthToken(input.reauthToken),
    () => checkRegistrationRequest(input.registrationRequest),
  );
  await checkReauthToken(deps.db, token, caller, deps.clock.now());
  if (!deps.opaque.hasCapacity()) throw resourceExhausted(QUEUE_FULL_RETRY_MS, "the server is busy, try again shortly");
  return { registrationResponse: await deps.opaque.registerInit(caller.username, input.registrationRequest) };
}

export async function changePasswordFinish(
  deps: AccountDeps,
  caller: Caller,
  input: { reauthToken: string; registrationRecord: Uint8Array; keepOtherSessions: boolean },
  meta: ClientContext,
): Promise<{ sessionsEnded: number }> {
  const [token] = validateAll(
    () => requireReauthToken(input.reauthToken),
    () => checkRegistrationRecord(input.registrationRecord),
  );
  const at = deps.clock.now();
  // With keepOtherSessions nothing is revoked (an empty id list), but the writes below still run
  // in the one transaction revoke() opens.
  const ended = await deps.revocations.revoke({
    userId: caller.userId,
    sessionIds: input.keepOtherSessions ? [] : undefined,
    exceptSessionIds: [caller.sessionId],
    reason: "password_changed",
    audit: async (trx, revokedIds) => {
      await spendReauthToken(trx, token, caller, at);
      if (!(await replaceOpaqueRecord(trx, caller.userId, input.registrationRecord, at))) throw unauthenticated("TOKEN_INVALID");
      await deps.revokeDeviceCredentials(trx, caller.userId);
      // Other sessions' step-ups were proven with the old password: they end with it.
      await removeOtherSessionsReauthTokens(trx, caller.userId, caller.sessionId);
      await recordAudit(trx, {
        at,
        event: "account.password_changed",
        userId: caller.userId,
        sessionId: caller.sessionId,
        username: caller.username,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: { kept_other_sessions: input.keepOtherSessions, sessions_ended: revokedIds.length },
      });
    },
  });
  return { sessionsEnded: ended.length };
}
