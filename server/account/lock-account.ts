/**
 * Locking and unlocking an account (AdminService.LockUser, UnlockUser).
 *
 * Lock: in one transaction, the account's row is held (hold-account.ts), the lock is written, every
 * live session is revoked and the audit entry recorded; then the revocation is announced to every
 * instance (Revocations, as Logout does). From then on: access tokens are refused everywhere,
 * refresh tokens are refused (their sessions are revoked), login tokens issued before the lock are
 * refused by CreateSession, and LoginInit treats the account as unknown (a fake record), so every
 * login fails exactly as a wrong password does.
 */
import type { Clock } from "../clock.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { Revocations } from "../session/liveness/index.js";
import { putLock, removeLock } from "../storage/account-lock-store.js";
import type { Actor } from "./actor.js";
import { holdAccount } from "./hold-account.js";

export interface AccountLockingDeps {
  db: Db;
  clock: Clock;
  revocations: Revocations;
}

/** The most a lock reason may hold. */
export const MAX_LOCK_REASON_CHARS = 500;

/** Locks the account and ends its sessions; returns how many sessions were live. NotFound for no such account. */
export async function lockAccount(deps: AccountLockingDeps, params: { userId: string; reason: string; lockedBy: string; actor: Actor }): Promise<number> {
  const at = deps.clock.now();
  const revoked = await deps.revocations.revoke({
    userId: params.userId,
    reason: "account_locked",
    before: async (trx) => {
      await holdAccount(trx, params.userId, at);
      await putLock(trx, { userId: params.userId, at, reason: params.reason, by: params.lockedBy });
    },
    audit: (trx, revokedIds) =>
      recordAudit(trx, {
        at,
        event: "admin.user_locked",
        userId: params.userId,
        ip: params.actor.ip,
        userAgent: params.actor.userAgent,
        details: { ...params.actor.details, reason: params.reason, sessions_ended: revokedIds.length },
      }),
  });
  return revoked.length;
}

/** Lifts the lock (nothing to do if there is none). NotFound for no such account. */
export async function unlockAccount(deps: Pick<AccountLockingDeps, "db" | "clock">, params: { userId: string; actor: Actor }): Promise<void> {
  const at = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await holdAccount(trx, params.userId, at);
    const wasLocked = await removeLock(trx, params.userId);
    await recordAudit(trx, {
      at,
      event: "admin.user_unlocked",
      userId: params.userId,
      ip: params.actor.ip,
      userAgent: params.actor.userAgent,
      details: { ...params.actor.details, was_locked: wasLocked },
    });
  });
}
