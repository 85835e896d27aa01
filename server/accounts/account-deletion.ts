/**
 * Deleting an account: what AdminService.DeleteUser does, and what the owner's own deletion does.
 *
 * One transaction: the account's row is held (no session can be created meanwhile), every live
 * session is revoked (stamped for the revocation feed), then
 *  - the sessions' refresh-token rows are deleted and their device names blanked: the revoked
 *    session rows themselves stay, because WatchRevocations reads revocations from them (a backend
 *    resuming from a cursor must still hear of these); they point at a user id that no longer
 *    exists, which every query joining users treats as no session;
 *  - the account row goes, and with it (on delete cascade) its OPAQUE record, TOTP secret,
 *    recovery codes and any lock;
 *  - the audit trail keeps the user id but forgets the username (the name can be registered again
 *    by someone else, as a new user id);
 *  - the "account.deleted" entry, which names the user id only.
 * Then the revocation is announced to every instance, as a log-out everywhere is.
 */
import type { Clock } from "../clock.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { Revocations } from "../session/liveness/index.js";
import type { Actor } from "./account-actions.js";
import { holdAccount } from "./hold-account.js";

export interface AccountDeletionDeps {
  db: Db;
  clock: Clock;
  revocations: Revocations;
}

/** Deletes the account; returns how many live sessions it ended. NotFound for no such account. */
export async function deleteAccount(deps: AccountDeletionDeps, params: { userId: string; actor: Actor }): Promise<number> {
  const { userId, actor } = params;
  const at = deps.clock.now();
  const revoked = await deps.revocations.revoke({
    userId,
    reason: "account_deleted",
    before: async (trx) => {
      await holdAccount(trx, userId, at);
    },
    audit: async (trx, revokedIds) => {
      const sessionsOfUser = trx.selectFrom("sessions").select("id").where("user_id", "=", userId);
      await trx.deleteFrom("refresh_tokens").where("session_id", "in", sessionsOfUser).execute();
      await trx.updateTable("sessions").set({ device_name: "" }).where("user_id", "=", userId).execute();
      await trx.deleteFrom("users").where("id", "=", userId).execute();
      await trx.updateTable("audit_log").set({ username: null }).where("user_id", "=", userId).execute();
      await recordAudit(trx, {
        at,
        event: "account.deleted",
        userId,
        ip: actor.ip,
        userAgent: actor.userAgent,
        details: { ...actor.details, sessions_ended: revokedIds.length },
      });
    },
  });
  return revoked.length;
}
