/**
 * Device credentials (session/device-credential-store.ts): one row per device token that
 * CreateSession handed out, holding only the token's SHA-256. A LoginInit that shows a live one
 * for its username gets the device's own attempt budget.
 *
 *  - token_hash is unique: LoginInit finds the row by it (one index lookup, whatever the username);
 *  - an index on user_id over live rows, for "log out everywhere" (revoke all of an account's).
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("device_credentials")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("token_hash", "bytea", (c) => c.notNull().unique())
    .addColumn("device_name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("revoked_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("device_credentials_live_user_idx")
    .on("device_credentials")
    .column("user_id")
    .where(sql.ref("revoked_at"), "is", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("device_credentials").ifExists().execute();
}
