/**
 * Deleting an account: the one operation behind AccountService.DeleteAccount (the owner, with a
 * reauth token) and AdminService.DeleteUser (an operator). ONE transaction, the one
 * Revocations.revoke opens, so the revocation is numbered for WatchRevocations and announced to
 * every instance only after commit, exactly as a log-out everywhere:
 *   - the account's row is held (no session can be created meanwhile; hold-account.ts), and the
 *     owner's reauth token spent (`authorize`);
 *   - every live session revoked (reason account_deleted); the sessions rows STAY, revoked and
 *     numbered, because WatchRevocations reads them: a backend resuming from a cursor taken before
 *     the deletion still hears of it. Their device names are blanked; their refresh-token rows
 *     (hashes of tokens now dead) stay, so a late RefreshSession answers TOKEN_REVOKED as after a
 *     log-out;
 *   - the username and the typed device names erased from the account's audit entries (they keep
 *     the user id);
 *   - the account's row REMOVED, and with it (ON DELETE CASCADE) the OPAQUE record, the TOTP
 *     secrets (current and pending), recovery codes, device credentials, reauth tokens and any
 *     lock. The username (and its confusable skeleton) is free at once, for anyone, as a new user id;
 *   - the `account.deleted` entry, naming the user id and the actor, never the username.
 * Why removal and not a tombstone row: see docs/architecture.md ("Deleting an account").
 */
import { unauthenticated } from "../errors.js";
import type { Clock } from "../clock.js";
import type { ClientContext } from "../client-context.js";
import { validateAll } from "../auth/validation.js";
import type { Revocations } from "../session/liveness/index.js";
import { forgetSessionDeviceNames } from "../session/session-store.js";
import { eraseIdentityFromAudit, recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import { removeAccount } from "../storage/user-store.js";
import type { AccountDeps, Caller } from "./account-deps.js";
import type { Actor } from "./actor.js";
import { holdAccount } from "./hold-account.js";
import { spendReauthToken } from "./reauth-token.js";
import { requireReauthToken } from "./required-fields.js";

export interface AccountDeletionDeps {
  db: Db;
  clock: Clock;
  revocations: Revocations;
}

/**
 * Deletes the account; returns how many live sessions it ended. `authorize` runs in the
 * transaction once the row is held (throwing rolls everything back); an account that does not
 * exist throws `missing()` (NotFound by default).
 */
export async function deleteAccount(
  deps: AccountDeletionDeps,
  params: { userId: string; actor: Actor; authorize?: (trx: Db, at: Date) => Promise<void>; missing?: () => Error },
): Promise<number> {
  const { userId, actor } = params;
  const at = deps.clock.now();
  const revoked = await deps.revocations.revoke({
    userId,
    reason: "account_deleted",
    // The caller's own session is announced even if PostgreSQL had it revoked already.
    alsoAnnounce: actor.sessionId === undefined ? undefined : [actor.sessionId],
    before: async (trx) => {
      await holdAccount(trx, userId, at, params.missing);
      await params.authorize?.(trx, at);
    },
    audit: async (trx, revokedIds) => {
      await forgetSessionDeviceNames(trx, userId);
      await eraseIdentityFromAudit(trx, userId);
      await removeAccount(trx, userId);
      await recordAudit(trx, {
        at,
        event: "account.deleted",
        userId,
        sessionId: actor.sessionId ?? null,
        ip: actor.ip,
        userAgent: actor.userAgent,
        details: { ...actor.details, sessions_ended: revokedIds.length },
      });
    },
  });
  return revoked.length;
}

/** AccountService.DeleteAccount: the owner deletes their own account with a reauth token (spent). */
export async function deleteOwnAccount(deps: AccountDeps, caller: Caller, input: { reauthToken: string }, meta: ClientContext): Promise<{ sessionsEnded: number }> {
  const [token] = validateAll(() => requireReauthToken(input.reauthToken));
  const ended = await deleteAccount(deps, {
    userId: caller.userId,
    actor: { ip: meta.ip, userAgent: meta.userAgent, sessionId: caller.sessionId, details: { by: "owner" } },
    authorize: (trx, at) => spendReauthToken(trx, token, caller, at),
    // The caller's account vanished under a live session (a concurrent deletion): its token is dead.
    missing: () => unauthenticated("TOKEN_INVALID"),
  });
  return { sessionsEnded: ended };
}
