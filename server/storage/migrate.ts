/**
 * Applies every pending migration, in order, at start-up. Migrations are listed here explicitly
 * (rather than read from a folder) so they work the same under tsx, vitest and a bundle.
 * To change the schema: add `migrations/NNNN-name.ts` and a line below; never edit a shipped one.
 */
import { sql } from "kysely";
import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely/migration";
import type { Db } from "./database.js";
import * as m0001 from "./migrations/0001-initial.js";
import * as m0002 from "./migrations/0002-revocation-feed.js";
import * as m0003 from "./migrations/0003-account-locks.js";
import * as m0004 from "./migrations/0004-device-credentials.js";
import * as m0005 from "./migrations/0005-username-skeleton.js";
import * as m0006 from "./migrations/0006-account-lifecycle.js";
import * as m0007 from "./migrations/0007-account-deletion-removes-row.js";

const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-revocation-feed": m0002,
  "0003-account-locks": m0003,
  "0004-device-credentials": m0004,
  "0005-username-skeleton": m0005,
  "0006-account-lifecycle": m0006,
  "0007-account-deletion-removes-row": m0007,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export async function migrateToLatest(db: Db): Promise<string[]> {
  return await migrate(db, (migrator) => migrator.migrateToLatest());
}

/** Applies the migrations up to and including `name` (tests use it to build an older schema). */
export async function migrateTo(db: Db, name: keyof typeof MIGRATIONS): Promise<string[]> {
  return await migrate(db, (migrator) => migrator.migrateTo(name));
}

async function migrate(db: Db, run: (migrator: Migrator) => Promise<MigrationResultSet>): Promise<string[]> {
  // kysely looks for its bookkeeping tables in EVERY schema unless told which one: with a
  // `kysely_migration` table elsewhere in the database (another app, another test schema) it would
  // skip creating its own and then fail. Pin it to the schema the tables go to: the current one
  // (`public` by default, or the first schema of a configured search_path).
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema) throw new Error("migration failed: the search_path names no existing schema; create it first");
  const { error, results } = await run(new Migrator({ db, provider, migrationTableSchema: schema }));
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
