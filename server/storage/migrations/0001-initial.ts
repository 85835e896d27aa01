/**
 * The first schema: accounts, recovery codes, sessions, refresh-token chains, audit log.
 * Runs unchanged on PostgreSQL and PGlite.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("username", "text", (c) => c.notNull().unique())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending', 'active')`))
    .addColumn("opaque_record", "bytea", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("activated_at", "timestamptz")
    .addColumn("enrollment_expires_at", "timestamptz")
    .addColumn("enrollment_token_hash", "bytea", (c) => c.unique())
    .addColumn("enrollment_failed_attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("totp_secret_encrypted", "bytea")
    .addColumn("totp_last_used_step", "bigint")
    .execute();
  // The sweep of expired pending accounts scans only pending rows.
  await db.schema
    .createIndex("users_pending_expiry_idx")
    .on("users")
    .column("enrollment_expires_at")
    .where(sql.ref("status"), "=", "pending")
    .execute();

  await db.schema
    .createTable("recovery_codes")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("code_hash", "bytea", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("used_at", "timestamptz")
    .addUniqueConstraint("recovery_codes_user_hash_unique", ["user_id", "code_hash"])
    .execute();

  await db.schema
    .createTable("sessions")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("device_name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_refreshed_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .addColumn("revoked_reason", "text")
    .execute();
  await db.schema.createIndex("sessions_user_idx").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("refresh_tokens")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("session_id", "uuid", (c) => c.notNull().references("sessions.id").onDelete("cascade"))
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("token_hash", "bytea", (c) => c.notNull().unique())
    .addColumn("replaces_id", "uuid", (c) => c.references("refresh_tokens.id").onDelete("set null"))
    .addColumn("issued_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("refresh_tokens_session_idx").on("refresh_tokens").column("session_id").execute();
  await db.schema.createIndex("refresh_tokens_replaces_idx").on("refresh_tokens").column("replaces_id").execute();

  await db.schema
    .createTable("audit_log")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("user_id", "uuid")
    .addColumn("session_id", "uuid")
    .addColumn("username", "text")
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .addColumn("details", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex("audit_log_user_at_idx").on("audit_log").columns(["user_id", "at"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["audit_log", "refresh_tokens", "sessions", "recovery_codes", "users"]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
