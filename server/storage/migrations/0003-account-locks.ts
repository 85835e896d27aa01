/**
 * What the operator API (AdminService) needs of the schema:
 *
 *  - account_locks: one row per locked account. While it exists every login of the account fails
 *    as a wrong password does and no session can be created (auth/accounts.ts, session/
 *    create-session.ts). A table of its own rather than a users column, so unlocking deletes a row
 *    and the account row is untouched; it goes with the account (on delete cascade).
 *  - sessions no longer reference users: an account's deletion revokes its sessions, and the
 *    revoked rows must outlive the account, because the revocation feed (WatchRevocations) is read
 *    from sessions.revocation_seq. Deleting them with the account would hide those revocations
 *    from every backend that resumes from a cursor. They are scrubbed instead (see
 *    accounts/account-deletion.ts) and point at a user id that no longer exists, which every query
 *    joining users already treats as "no such session".
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("account_locks")
    .addColumn("user_id", "uuid", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
    .addColumn("locked_at", "timestamptz", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull().defaultTo(""))
    /** Fingerprint of the admin key that locked it (never the key). */
    .addColumn("locked_by", "text", (c) => c.notNull())
    .execute();
  await db.schema.alterTable("sessions").dropConstraint("sessions_user_id_fkey").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Sessions of deleted accounts have no account to point at any more: they go first.
  await sql`delete from sessions where not exists (select 1 from users where users.id = sessions.user_id)`.execute(db);
  await db.schema
    .alterTable("sessions")
    .addForeignKeyConstraint("sessions_user_id_fkey", ["user_id"], "users", ["id"], (c) => c.onDelete("cascade"))
    .execute();
  await db.schema.dropTable("account_locks").ifExists().execute();
}
