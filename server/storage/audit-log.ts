/**
 * The audit log: what happened to which account, when, from where. Written in the same transaction
 * as the change it describes (pass the transaction as `db`), so the log and the data never disagree.
 *
 * THE RULE: nothing secret goes in. No password-equivalent, OPAQUE message or record, key, token,
 * token hash, TOTP secret, TOTP or recovery code, cookie or Authorization header, in any field.
 * `details` holds flat facts (a reason, a device name, a count, a token's id). To make a slip
 * loud rather than silent, `details` takes only strings, numbers, booleans and null (no bytes,
 * no nested objects), and a key that names a secret (see SECRET_KEY_PATTERN) throws TypeError:
 * every call site is exercised by tests, so such a bug never reaches production.
 *
 * Client-supplied strings (username, IP, user agent, detail values) are cut to a bounded length so
 * a hostile client cannot grow rows without limit.
 */
import { sql } from "kysely";
import type { Db } from "./database.js";

export type AuditEvent =
  | "account.registered"
  | "enrollment.confirmed"
  | "enrollment.expired"
  | "login.succeeded"
  | "login.failed"
  | "login.locked_out"
  | "login.second_factor_locked_out"
  | "session.created"
  | "session.refreshed"
  | "session.refresh_grace_reissued"
  | "session.refresh_reuse_detected"
  | "session.revoked"
  | "session.logged_out"
  | "account.reauthenticated"
  | "account.reauthentication_failed"
  | "account.password_changed"
  | "account.totp_replaced"
  | "account.totp_replacement_failed"
  | "account.recovery_codes_regenerated"
  /** The account and its secrets were removed (details: who, sessions_ended); never the username. */
  | "account.deleted"
  /** AdminService: details.operator is the acting admin key's fingerprint, never the key. */
  | "admin.user_locked"
  | "admin.user_unlocked"
  | "admin.user_sessions_revoked"
  | "admin.user_viewed"
  | "admin.users_listed"
  | "admin.audit_events_listed";

/** Flat facts only; see the rule above. */
export type AuditDetails = Record<string, string | number | boolean | null>;

export interface AuditEntry {
  /** From the application clock. */
  at: Date;
  event: AuditEvent;
  userId?: string | null;
  sessionId?: string | null;
  /** Normalized username (for failed logins: the name that was tried, which may not exist). */
  username?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: AuditDetails;
}

/**
 * Detail keys that name a secret, or come close enough to be refused. Identifiers are fine under
 * names that avoid these words: a token's id is `jti`, a key's id is `kid`, a failure is `reason`.
 */
export const SECRET_KEY_PATTERN = /password|passphrase|secret|token|code|otp|seed|private|key|ke[123]|record|envelope|cookie|authorization|hash/i;

const MAX_USERNAME_CHARS = 128;
const MAX_IP_CHARS = 64;
const MAX_USER_AGENT_CHARS = 512;
const MAX_DETAIL_STRING_CHARS = 512;

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await recordAudits(db, [entry]);
}

/** Several entries in one statement (e.g. one per account a sweep removed). */
export async function recordAudits(db: Db, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db
    .insertInto("audit_log")
    .values(
      entries.map((entry) => ({
        at: entry.at,
        event: entry.event,
        user_id: entry.userId ?? null,
        session_id: entry.sessionId ?? null,
        username: truncate(entry.username, MAX_USERNAME_CHARS),
        ip: truncate(entry.ip, MAX_IP_CHARS),
        user_agent: truncate(entry.userAgent, MAX_USER_AGENT_CHARS),
        details: JSON.stringify(checkedDetails(entry.details ?? {})),
      })),
    )
    .execute();
}

/**
 * Erases what names a deleted account's owner from its entries, the username and the device names
 * they typed (`details.device_name`), so its trail keeps only the user id and the facts.
 */
export async function eraseIdentityFromAudit(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("audit_log")
    .set({ username: null, details: sql<string>`details - 'device_name'` })
    .where("user_id", "=", userId)
    .execute();
}

/** One entry as AdminService.ListAuditEvents shows it. */
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

/** Entries of one account (or of all when `userId` is undefined) with ids below `beforeId`, newest first. */
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

function checkedDetails(details: AuditDetails): AuditDetails {
  const out: AuditDetails = {};
  for (const [key, value] of Object.entries(details)) {
    if (SECRET_KEY_PATTERN.test(key)) {
      throw new TypeError(`audit detail "${key}" looks like a secret; secrets never go in the audit log`);
    }
    if (value !== null && !["string", "number", "boolean"].includes(typeof value)) {
      throw new TypeError(`audit detail "${key}" must be a string, number, boolean or null`);
    }
    out[key] = typeof value === "string" ? truncate(value, MAX_DETAIL_STRING_CHARS) : value;
  }
  return out;
}

/**
 * At most `maxChars` UTF-16 units, never half a surrogate pair, and no NUL: jsonb (the details) and
 * text refuse both, and a value recorded from a client must not turn an audit write into an error.
 */
function truncate(value: string | null | undefined, maxChars: number): string | null {
  if (value === undefined || value === null) return null;
  let end = Math.min(value.length, maxChars);
  if (end < value.length && /[\uD800-\uDBFF]/.test(value.charAt(end - 1))) end -= 1;
  return value.slice(0, end).replaceAll("\u0000", "\uFFFD");
}
