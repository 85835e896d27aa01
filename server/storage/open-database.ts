/**
 * Opens the database: PostgreSQL through a `pg` pool when a URL is given, otherwise embedded
 * PostgreSQL (PGlite) persisted under a directory (or in memory, for tests). The same kysely
 * queries and migrations run on both.
 */
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database, Db } from "./database.js";

// bigint (int8) columns come back as strings from pg by default; PGlite returns numbers for
// values in range. Both are handled by callers through Number(); nothing here relies on either.

export type DatabaseTarget =
  | { kind: "postgres"; url: string; maxConnections?: number }
  | { kind: "embedded"; dataDir: string }
  | { kind: "memory" };

export interface OpenDatabase {
  db: Db;
  kind: DatabaseTarget["kind"];
  /** Closes the pool or the embedded instance (an open PGlite keeps Node alive). */
  close(): Promise<void>;
}

export function openDatabase(target: DatabaseTarget): OpenDatabase {
  if (target.kind === "postgres") {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.maxConnections ?? 10,
      connectionTimeoutMillis: 5_000,
      // Fail fast instead of hanging a request forever when the server stops answering.
      query_timeout: 15_000,
    });
    // An idle client losing its connection (PostgreSQL restarted) must not crash the process;
    // the pool replaces it and queries in flight fail with an error mapped to Unavailable.
    pool.on("error", () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: "postgres", close: () => db.destroy() };
  }

  let pglite: PGlite;
  if (target.kind === "embedded") {
    mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
    pglite = new PGlite(target.dataDir);
  } else {
    pglite = new PGlite();
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    kind: target.kind,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
