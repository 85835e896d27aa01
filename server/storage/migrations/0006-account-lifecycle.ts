/**
 * Account lifecycle (AccountService): password changes, authenticator replacement, step-up tokens
 * and account deletion.
 *
 *  - users.password_changed_at: when the OPAQUE record was last replaced (null: never);
 *  - users.totp_pending_secret_encrypted: a new TOTP secret sealed like the current one, waiting
 *    for ReplaceTotpFinish; the current secret keeps working until then;
 *  - users.totp_replaced_at: when the current secret replaced an earlier one (null: the secret of
 *    enrollment, enrolled at activated_at);
 *  - users.deleted_at and status 'deleted': a deleted account stays as a tombstone row holding no
 *    credential and no username (see account/delete-account.ts). Its sessions rows stay with it,
 *    revoked and numbered, so WatchRevocations still reports their revocation to a watcher that
 *    resumes later: a hard delete would cascade them away (and with them the highest
 *    revocation_seq, turning the feed's "latest" back);
 *  - reauth_tokens: SHA-256 of each step-up token, bound to one session and account, spent once.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("users")
    .addColumn("password_changed_at", "timestamptz")
    .addColumn("totp_pending_secret_encrypted", "bytea")
    .addColumn("totp_replaced_at", "timestamptz")
    .addColumn("deleted_at", "timestamptz")
    .execute();
  await sql`alter table users drop constraint users_status_check`.execute(db);
  await sql`alter table users add constraint users_status_check check (status in ('pending', 'active', 'deleted'))`.execute(db);

  await db.schema
    .createTable("reauth_tokens")
    .addColumn("token_hash", "bytea", (c) => c.primaryKey())
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("session_id", "uuid", (c) => c.notNull().references("sessions.id").onDelete("cascade"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("spent_at", "timestamptz")
    .execute();
  await db.schema.createIndex("reauth_tokens_user_idx").on("reauth_tokens").column("user_id").execute();
  await db.schema.createIndex("reauth_tokens_session_idx").on("reauth_tokens").column("session_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("reauth_tokens").ifExists().execute();
  await sql`delete from users where status = 'deleted'`.execute(db);
  await sql`alter table users drop constraint users_status_check`.execute(db);
  await sql`alter table users add constraint users_status_check check (status in ('pending', 'active'))`.execute(db);
  await db.schema
    .alterTable("users")
    .dropColumn("deleted_at")
    .dropColumn("totp_replaced_at")
    .dropColumn("totp_pending_secret_encrypted")
    .dropColumn("password_changed_at")
    .execute();
}
