/**
 * Ending every live session of an account on every instance, without locking it
 * (AdminService.RevokeUserSessions): a log-out everywhere, announced as Logout announces one.
 */
import type { Clock } from "../clock.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { Revocations } from "../session/liveness/index.js";
import type { Actor } from "./actor.js";
import { holdAccount } from "./hold-account.js";

export interface EndAccountSessionsDeps {
  db: Db;
  clock: Clock;
  revocations: Revocations;
}

/** Ends every live session of the account on every instance (a log-out everywhere); returns how many. */
export async function revokeAccountSessions(deps: EndAccountSessionsDeps, params: { userId: string; actor: Actor }): Promise<number> {
  const at = deps.clock.now();
  const revoked = await deps.revocations.revoke({
    userId: params.userId,
    reason: "admin_revoked",
    before: async (trx) => {
      await holdAccount(trx, params.userId, at);
    },
    audit: (trx, revokedIds) =>
      recordAudit(trx, {
        at,
        event: "admin.user_sessions_revoked",
        userId: params.userId,
        ip: params.actor.ip,
        userAgent: params.actor.userAgent,
        details: { ...params.actor.details, sessions_ended: revokedIds.length },
      }),
  });
  return revoked.length;
}
