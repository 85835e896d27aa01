/**
 * The sessions table: PostgreSQL is the truth about whether a session is live. Plain functions
 * taking the database (or a transaction) first, as kysely's example repositories do. Every time
 * comes from the caller (the application clock), never from SQL `now()`.
 */
import type { Db, SessionRow } from "../storage/database.js";
import type { SessionRecord } from "./session-record.js";

/** Why a session ended (sessions.revoked_reason). */
export type RevocationReason = "logout" | "logout_all" | "revoked" | "refresh_reuse" | "account_locked" | "admin_revoked" | "password_changed" | "account_deleted";

/** The one mapping from a `sessions` row (and its account's username) to a SessionRecord. */
function toRecord(row: SessionRow & { username: string }): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    username: row.username,
    deviceName: row.device_name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastRefreshedAt: row.last_refreshed_at,
    revokedAt: row.revoked_at,
  };
}

function selectSessions(db: Db) {
  return db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .selectAll("sessions")
    .select("users.username");
}

export async function findSession(db: Db, sessionId: string): Promise<SessionRecord | null> {
  const row = await selectSessions(db).where("sessions.id", "=", sessionId).executeTakeFirst();
  return row ? toRecord(row) : null;
}

/** The account's live sessions, newest first. */
export async function listLiveSessions(db: Db, userId: string, now: Date): Promise<SessionRecord[]> {
  const rows = await selectSessions(db)
    .where("sessions.user_id", "=", userId)
    .where("sessions.revoked_at", "is", null)
    .where("sessions.expires_at", ">", now)
    .orderBy("sessions.created_at", "desc")
    .orderBy("sessions.id", "desc")
    .execute();
  return rows.map(toRecord);
}

export async function insertSession(
  db: Db,
  session: { id: string; userId: string; deviceName: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto("sessions")
    .values({
      id: session.id,
      user_id: session.userId,
      device_name: session.deviceName,
      created_at: session.createdAt,
      expires_at: session.expiresAt,
    })
    .execute();
}

/**
 * Marks live sessions revoked, stamped with the revoking transaction's `seq` (revocation-log.ts);
 * rows already revoked or past their lifetime do not change. `userId` confines the update to one
 * account's sessions (RevokeSession must never touch another account's); `exceptSessionIds` are
 * left alone (a password change keeps the calling session). Returns the ids revoked.
 */
export async function revokeSessions(
  db: Db,
  params: { sessionIds?: string[]; userId?: string; exceptSessionIds?: string[]; reason: RevocationReason; at: Date; seq?: string },
): Promise<string[]> {
  if (params.sessionIds !== undefined && params.sessionIds.length === 0) return [];
  if (params.sessionIds === undefined && params.userId === undefined) throw new TypeError("revokeSessions needs sessionIds or userId");
  let query = db
    .updateTable("sessions")
    .set({ revoked_at: params.at, revoked_reason: params.reason, revocation_seq: params.seq ?? null })
    .where("revoked_at", "is", null)
    .where("expires_at", ">", params.at);
  if (params.sessionIds !== undefined) query = query.where("id", "in", params.sessionIds);
  if (params.userId !== undefined) query = query.where("user_id", "=", params.userId);
  if (params.exceptSessionIds !== undefined && params.exceptSessionIds.length > 0) query = query.where("id", "not in", params.exceptSessionIds);
  const rows = await query.returning("id").execute();
  return rows.map((r) => r.id);
}

/**
 * Records a refresh of a session that is still live (not revoked, not past its lifetime) and returns
 * it; undefined when it is no longer live (a revocation that committed first makes this match nothing).
 */
export async function markSessionRefreshed(db: Db, sessionId: string, at: Date): Promise<SessionRecord | undefined> {
  const row = await db
    .updateTable("sessions")
    .from("users")
    .set({ last_refreshed_at: at })
    .whereRef("users.id", "=", "sessions.user_id")
    .where("sessions.id", "=", sessionId)
    .where("sessions.revoked_at", "is", null)
    .where("sessions.expires_at", ">", at)
    .returningAll("sessions")
    .returning("users.username")
    .executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Blanks the device names of an account's sessions (what a person named them), keeping the rows. */
export async function forgetSessionDeviceNames(db: Db, userId: string): Promise<void> {
  await db.updateTable("sessions").set({ device_name: "" }).where("user_id", "=", userId).execute();
}
