/**
 * Revocations in commit order, from PostgreSQL: the durable half of WatchRevocations.
 *
 * Every revoking transaction takes a transaction-scoped advisory lock, then one number from
 * `session_revocation_seq`, and stamps the sessions it ends with it (sessions.revocation_seq). The
 * lock is held until commit, so a transaction that takes a higher number commits after every
 * transaction with a lower one: when number n is visible, so is everything below it, and "every
 * revocation after n" is a resume point that can never skip a slower, earlier transaction. The
 * price is that revocations commit one at a time (a few milliseconds each); nothing else waits.
 */
import { sql } from "kysely";
import type { Db } from "../storage/database.js";

/** pg_advisory_xact_lock key for revoking transactions: "cyph" + 1, an arbitrary constant. */
const REVOCATION_LOCK_KEY = "1668903016001";

/** Rows fetched per query; a transaction's sessions are never split between two events. */
const PAGE_ROWS = 500;

export interface RevocationEvent {
  /** The revoking transaction's number (the resume point after this event). */
  seq: bigint;
  revokedAt: Date;
  sessionIds: string[];
  /** The account of each session: `userIds[i]` owns `sessionIds[i]` (an account sees only its own). */
  userIds: string[];
}

/**
 * Call first thing in a revoking transaction: waits for earlier revoking transactions to commit
 * and returns this one's number (a decimal string, as int8 columns are read).
 */
export async function beginRevocation(trx: Db): Promise<string> {
  await sql`select pg_advisory_xact_lock(${REVOCATION_LOCK_KEY}::bigint)`.execute(trx);
  const { rows } = await sql<{ seq: string }>`select nextval('session_revocation_seq')::text as seq`.execute(trx);
  return rows[0]!.seq;
}

/** The highest number committed so far (0 when nothing was ever revoked). */
export async function latestRevocationSeq(db: Db): Promise<bigint> {
  const row = await db
    .selectFrom("sessions")
    .select(sql<string | null>`max(revocation_seq)::text`.as("seq"))
    .where("revocation_seq", "is not", null)
    .executeTakeFirst();
  return BigInt(row?.seq ?? "0");
}

/**
 * Revocations numbered above `afterSeq` and made at or after `revokedSince` (older ones no longer
 * matter: every access token they could refuse has expired), of `userId`'s sessions only when
 * given, oldest first, at most about PAGE_ROWS sessions. `more` says whether to ask again from the last event's seq.
 */
export async function revocationsAfter(
  db: Db,
  params: { afterSeq: bigint; revokedSince: Date; userId?: string },
): Promise<{ events: RevocationEvent[]; more: boolean }> {
  let query = db
    .selectFrom("sessions")
    .select(["id", "user_id", "revoked_at", "revocation_seq"])
    .where("revocation_seq", ">", params.afterSeq.toString())
    .where("revoked_at", ">=", params.revokedSince);
  if (params.userId !== undefined) query = query.where("user_id", "=", params.userId);
  const rows = await query
    .orderBy("revocation_seq")
    .orderBy("id")
    .limit(PAGE_ROWS)
    .execute();
  const more = rows.length === PAGE_ROWS;
  const events = group(rows);
  if (more && events.length > 0) {
    // The last transaction may continue past the page: fetch it whole (one account's sessions).
    const last = events.pop()!;
    let wholeQuery = db
      .selectFrom("sessions")
      .select(["id", "user_id", "revoked_at", "revocation_seq"])
      .where("revocation_seq", "=", last.seq.toString());
    if (params.userId !== undefined) wholeQuery = wholeQuery.where("user_id", "=", params.userId);
    const whole = await wholeQuery.orderBy("id").execute();
    events.push(...group(whole));
  }
  return { events, more };
}

function group(rows: Array<{ id: string; user_id: string; revoked_at: Date | null; revocation_seq: string | null }>): RevocationEvent[] {
  const events: RevocationEvent[] = [];
  for (const row of rows) {
    if (row.revocation_seq === null || row.revoked_at === null) continue;
    const seq = BigInt(row.revocation_seq);
    const last = events.at(-1);
    if (last && last.seq === seq) {
      last.sessionIds.push(row.id);
      last.userIds.push(row.user_id);
    } else {
      events.push({ seq, revokedAt: row.revoked_at, sessionIds: [row.id], userIds: [row.user_id] });
    }
  }
  return events;
}
