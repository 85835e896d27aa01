/**
 * Opens the database: PostgreSQL through a `pg` pool when a URL is given, otherwise embedded
 * PostgreSQL (PGlite) persisted under a directory (or in memory, for tests). The same kysely
 * queries and migrations run on both.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database, Db } from "./database.js";
import { loadEmbeddedTemplate } from "./embedded-template.js";

// Both drivers are made to return the same JavaScript types, so code tested on PGlite behaves the
// same on PostgreSQL:
// - bytea -> a plain Uint8Array (pg would give a Buffer, whose toString()/equals() differ).
// - int8 (bigint, bigserial) -> a decimal string, as `database.ts` declares (pg's default; PGlite
//   would give a number, or a BigInt past 2^53). Callers convert with Number() where in range.
// - timestamptz -> Date (millisecond precision; times are written from Dates, so nothing is lost).
const BYTEA_OID = 17;
const INT8_OID = 20;

const pgTypes: pg.CustomTypesConfig = {
  getTypeParser(oid, format) {
    if (oid === BYTEA_OID && format !== "binary") {
      const parseBuffer = pg.types.getTypeParser(BYTEA_OID, "text") as (text: string) => Buffer;
      // A copy: the parsed Buffer may live in Node's shared pool.
      return (text: string) => new Uint8Array(parseBuffer(text));
    }
    return pg.types.getTypeParser(oid, format);
  },
};

const pgliteParsers = { [INT8_OID]: (text: string) => text };

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
      types: pgTypes,
    });
    // An idle client losing its connection (PostgreSQL restarted) must not crash the process;
    // the pool replaces it and queries in flight fail with an error mapped to Unavailable.
    pool.on("error", () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: "postgres", close: () => db.destroy() };
  }

  let pglite: PGlite;
  if (target.kind === "embedded") {
    // A new cluster starts from the saved template when there is one (skips initdb, ~3 s).
    const isNew = !existsSync(path.join(target.dataDir, "PG_VERSION"));
    mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
    const loadDataDir = isNew ? loadEmbeddedTemplate() : undefined;
    pglite = new PGlite(target.dataDir, { parsers: pgliteParsers, ...(loadDataDir ? { loadDataDir } : {}) });
  } else {
    const loadDataDir = loadEmbeddedTemplate();
    pglite = new PGlite({ parsers: pgliteParsers, ...(loadDataDir ? { loadDataDir } : {}) });
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
