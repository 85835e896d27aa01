/**
 * Applies every pending migration, in order, at start-up. Migrations are listed here explicitly
 * (rather than read from a folder) so they work the same under tsx, vitest and a bundle.
 * To change the schema: add `migrations/NNNN-name.ts` and a line below; never edit a shipped one.
 */
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";
import type { Db } from "./database.js";
import * as m0001 from "./migrations/0001-initial.js";

const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": m0001,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
