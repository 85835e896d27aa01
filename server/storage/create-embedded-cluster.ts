/**
 * Creates a new embedded cluster in a process of its own, which then exits:
 *
 *   node dist/server/storage/create-embedded-cluster.js DATA_DIR [--migrate]
 *
 * PGlite's WebAssembly memory grows while a cluster is created (initdb, or unpacking the template,
 * then the first migrations, with --migrate) and is never given back; done in the serving process, that growth
 * would stay for its whole life. The serving process then opens an existing cluster, which stays
 * small. Exit status 0 when the cluster is ready; otherwise the reason is on stderr.
 */
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect } from "kysely";
import type { Database } from "./database.js";
import { loadEmbeddedTemplate } from "./embedded-template.js";
import { EMBEDDED_POSTGRESQL_CONF } from "./embedded-settings.js";
import { migrateToLatest } from "./migrate.js";

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write("usage: create-embedded-cluster DATA_DIR\n");
  process.exit(2);
}
try {
  const loadDataDir = loadEmbeddedTemplate();
  const pglite = new PGlite(dataDir, { postgresqlconf: [...EMBEDDED_POSTGRESQL_CONF], ...(loadDataDir ? { loadDataDir } : {}) });
  await pglite.waitReady;
  if (process.argv[3] === "--migrate") {
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    await migrateToLatest(db);
    await db.destroy();
  }
  if (!pglite.closed) await pglite.close();
} catch (error) {
  process.stderr.write(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
