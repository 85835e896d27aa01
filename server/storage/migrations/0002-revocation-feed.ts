/**
 * The revocation feed behind SessionService.WatchRevocations: every revoking transaction stamps
 * the sessions it ends with one number from `session_revocation_seq`, taken while it holds a
 * transaction-scoped advisory lock (see session/revocation-log.ts), so the numbers commit in increasing
 * order and "everything after n" is a gap-free resume point.
 *
 *  - sessions.revocation_seq: the stamp (null for live sessions and for rows revoked before this
 *    migration, whose tokens have long expired);
 *  - an index on it, for "what committed after n" (the feed's tail, a handful of rows);
 *  - an index on revoked_at, for "what was revoked within the last access-token lifetime"
 *    (a watcher starting without a resume point).
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create sequence session_revocation_seq as bigint`.execute(db);
  await db.schema.alterTable("sessions").addColumn("revocation_seq", "bigint").execute();
  await db.schema
    .createIndex("sessions_revocation_seq_idx")
    .on("sessions")
    .column("revocation_seq")
    .where(sql.ref("revocation_seq"), "is not", null)
    .execute();
  await db.schema
    .createIndex("sessions_revoked_at_idx")
    .on("sessions")
    .column("revoked_at")
    .where(sql.ref("revoked_at"), "is not", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("sessions_revoked_at_idx").ifExists().execute();
  await db.schema.dropIndex("sessions_revocation_seq_idx").ifExists().execute();
  await db.schema.alterTable("sessions").dropColumn("revocation_seq").execute();
  await sql`drop sequence if exists session_revocation_seq`.execute(db);
}
