/**
 * One way to delete an account (account/delete-account.ts): the account's row is removed, never
 * kept as a tombstone. The revoked sessions rows that WatchRevocations reads outlive the account
 * because sessions have had no foreign key to users since 0003; everything that does reference
 * users (OPAQUE record and TOTP secrets in the row, recovery codes, device credentials, reauth
 * tokens, locks) goes with the row by ON DELETE CASCADE.
 *
 * Tombstones left by 0006's DeleteAccount are converted the same way: their sessions' device names
 * blanked, the rows removed. Status `deleted` and `deleted_at` go. Down restores the column and the
 * status value, not the removed rows (they held no credential and no username).
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`update sessions set device_name = '' where user_id in (select id from users where status = 'deleted')`.execute(db);
  await sql`delete from users where status = 'deleted'`.execute(db);
  await sql`alter table users drop constraint users_status_check`.execute(db);
  await sql`alter table users add constraint users_status_check check (status in ('pending', 'active'))`.execute(db);
  await db.schema.alterTable("users").dropColumn("deleted_at").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("users").addColumn("deleted_at", "timestamptz").execute();
  await sql`alter table users drop constraint users_status_check`.execute(db);
  await sql`alter table users add constraint users_status_check check (status in ('pending', 'active', 'deleted'))`.execute(db);
}
