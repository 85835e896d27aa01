/** The audit-log query behind AdminService.ListAuditEvents: newest first, keyset on the row id. */
import type { Db } from "../storage/database.js";

export interface AuditEventView {
  id: string;
  event: string;
  userId: string | null;
  sessionId: string | null;
  username: string | null;
  ip: string | null;
  userAgent: string | null;
  at: Date;
  details: Record<string, unknown>;
}

/** Events of one account (or of all when `userId` is undefined), with ids below `beforeId`. */
export async function listAuditEvents(
  db: Db,
  params: { userId: string | undefined; limit: number; beforeId: string | undefined },
): Promise<{ events: AuditEventView[]; more: boolean }> {
  let query = db.selectFrom("audit_log").select(["id", "event", "user_id", "session_id", "username", "ip", "user_agent", "at", "details"]);
  if (params.userId !== undefined) query = query.where("user_id", "=", params.userId);
  if (params.beforeId !== undefined) query = query.where("id", "<", params.beforeId);
  const rows = await query.orderBy("id", "desc").limit(params.limit + 1).execute();
  return {
    events: rows.slice(0, params.limit).map((row) => ({
      // bigserial: a decimal string from pg, possibly a number or bigint elsewhere.
      id: String(row.id),
      event: row.event,
      userId: row.user_id,
      sessionId: row.session_id,
      username: row.username,
      ip: row.ip,
      userAgent: row.user_agent,
      at: row.at,
      // jsonb arrives parsed from pg; a string if a driver did not parse it.
      details: typeof row.details === "string" ? (JSON.parse(row.details) as Record<string, unknown>) : row.details,
    })),
    more: rows.length > params.limit,
  };
}
