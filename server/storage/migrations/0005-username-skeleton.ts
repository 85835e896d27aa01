/**
 * users.username_skeleton: the UTS #39 confusable skeleton of the username (auth/username-skeleton.ts),
 * so "is a look-alike of this name taken?" is one index lookup. Existing rows are filled in here.
 * The index is not unique: a deployment may already hold two look-alike names, and this migration
 * must not fail on them; registration checks the skeleton before inserting.
 */
import { type Kysely, sql } from "kysely";
import { usernameSkeleton } from "../../auth/username-skeleton.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("users").addColumn("username_skeleton", "text").execute();
  const { rows } = await sql<{ id: string; username: string }>`select id, username from users`.execute(db);
  for (const row of rows) {
    await sql`update users set username_skeleton = ${usernameSkeleton(row.username)} where id = ${row.id}`.execute(db);
  }
  await db.schema.createIndex("users_username_skeleton_idx").on("users").column("username_skeleton").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("users_username_skeleton_idx").ifExists().execute();
  await db.schema.alterTable("users").dropColumn("username_skeleton").execute();
}
