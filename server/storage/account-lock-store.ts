/**
 * Account locks (table account_locks, one row per locked account), set by AdminService.LockUser.
 *
 * A lock must reveal nothing to whoever tries the account: user-store.ts findActiveAccount skips
 * locked accounts, so LoginInit answers with a fake record (exactly as for an unknown name) and the
 * login fails the way a wrong password does; session/create-session.ts refuses a login token
 * issued before the lock. Locking also ends every session (account/lock-account.ts).
 */
import type { ExpressionBuilder, Expression, SqlBool } from "kysely";
import type { Database, Db } from "./database.js";

/** For queries on `users`: the account is not locked. */
export function notLocked(eb: ExpressionBuilder<Database, "users">): Expression<SqlBool> {
  return eb.not(eb.exists(eb.selectFrom("account_locks").select("account_locks.user_id").whereRef("account_locks.user_id", "=", "users.id")));
}

export async function isLocked(db: Db, userId: string): Promise<boolean> {
  const row = await db.selectFrom("account_locks").select("user_id").where("user_id", "=", userId).executeTakeFirst();
  return row !== undefined;
}

/** Locks the account, or replaces the reason of an existing lock (keeping when it was first locked). */
export async function putLock(db: Db, lock: { userId: string; at: Date; reason: string; by: string }): Promise<void> {
  await db
    .insertInto("account_locks")
    .values({ user_id: lock.userId, locked_at: lock.at, reason: lock.reason, locked_by: lock.by })
    .onConflict((oc) => oc.column("user_id").doUpdateSet({ reason: lock.reason, locked_by: lock.by }))
    .execute();
}

/** Lifts the lock; false if there was none. */
export async function removeLock(db: Db, userId: string): Promise<boolean> {
  const row = await db.deleteFrom("account_locks").where("user_id", "=", userId).returning("user_id").executeTakeFirst();
  return row !== undefined;
}
