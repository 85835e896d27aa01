/**
 * The account queries behind AdminService's GetUser and ListUsers: an account as an operator sees
 * it (never its record, secret or codes), with its lock and its count of live sessions. Accounts
 * that do not exist for anyone else (a pending one past its enrollment window) do not exist here.
 */
import { sql, type ExpressionBuilder } from "kysely";
import type { Database, Db, UserStatus } from "./database.js";
import { live } from "./user-store.js";

export interface UserView {
  id: string;
  username: string;
  status: UserStatus;
  createdAt: Date;
  /** When the OPAQUE record was last set. */
  passwordChangedAt: Date;
  activeSessions: number;
  lock: { lockedAt: Date; reason: string } | null;
}

function selectUsers(db: Db, now: Date) {
  return db
    .selectFrom("users")
    .leftJoin("account_locks", "account_locks.user_id", "users.id")
    .select(["users.id", "users.username", "users.status", "users.created_at", "users.password_changed_at", "account_locks.locked_at", "account_locks.reason"])
    .select((eb) =>
      eb
        .selectFrom("sessions")
        .select(sql<string>`count(*)::text`.as("n"))
        .whereRef("sessions.user_id", "=", "users.id")
        .where("sessions.revoked_at", "is", null)
        .where("sessions.expires_at", ">", now)
        .as("active_sessions"),
    )
    .where((eb) => live(now)(eb as unknown as ExpressionBuilder<Database, "users">));
}

type Row = {
  id: string;
  username: string;
  status: UserStatus;
  created_at: Date;
  password_changed_at: Date | null;
  locked_at: Date | null;
  reason: string | null;
  active_sessions: string | null;
};

function toView(row: Row): UserView {
  return {
    id: row.id,
    username: row.username,
    status: row.status,
    createdAt: row.created_at,
    // Registration set the first password; ChangePasswordFinish records every later one.
    passwordChangedAt: row.password_changed_at ?? row.created_at,
    activeSessions: Number(row.active_sessions ?? "0"),
    lock: row.locked_at === null ? null : { lockedAt: row.locked_at, reason: row.reason ?? "" },
  };
}

export async function findUserById(db: Db, userId: string, now: Date): Promise<UserView | undefined> {
  const row = await selectUsers(db, now).where("users.id", "=", userId).executeTakeFirst();
  return row ? toView(row) : undefined;
}

export async function findUserByUsername(db: Db, username: string, now: Date): Promise<UserView | undefined> {
  const row = await selectUsers(db, now).where("users.username", "=", username).executeTakeFirst();
  return row ? toView(row) : undefined;
}

/**
 * Accounts ordered by username, after `afterUsername` (the keyset position; usernames are unique),
 * optionally only those starting with `prefix`. Fetches one more than `limit` to tell whether
 * another page follows.
 */
export async function listUsers(
  db: Db,
  params: { limit: number; prefix: string; afterUsername: string | undefined; now: Date },
): Promise<{ users: UserView[]; more: boolean }> {
  let query = selectUsers(db, params.now);
  if (params.prefix !== "") query = query.where(sql<boolean>`starts_with(users.username, ${params.prefix})`);
  if (params.afterUsername !== undefined) query = query.where("users.username", ">", params.afterUsername);
  const rows = await query.orderBy("users.username").limit(params.limit + 1).execute();
  return { users: rows.slice(0, params.limit).map(toView), more: rows.length > params.limit };
}
