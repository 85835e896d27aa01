/**
 * Opens the database: PostgreSQL through a `pg` pool when a URL is given, otherwise embedded
 * PostgreSQL (PGlite) persisted under a directory (or in memory, for tests). The same kysely
 * queries and migrations run on both.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database, Db } from "./database.js";
import { loadEmbeddedTemplate } from "./embedded-template.js";
import { EMBEDDED_POSTGRESQL_CONF } from "./embedded-settings.js";

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
  | {
      kind: "embedded";
      dataDir: string;
      /** Also migrate a new cluster in the child that creates it (the server: keeps that growth out of it too). */
      migrateOnCreate?: boolean;
    }
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

  // PGlite (its WebAssembly module and the code around it) is loaded only here, never with a
  // DATABASE_URL.
  let pglite: PGlite | undefined;
  const parsers = pgliteParsers;
  const open = async (): Promise<PGlite> => {
    const { PGlite } = await import("@electric-sql/pglite");
    if (target.kind === "embedded") {
      if (!existsSync(path.join(target.dataDir, "PG_VERSION"))) await createEmbeddedCluster(target.dataDir, target.migrateOnCreate ?? false);
      pglite = new PGlite(target.dataDir, { parsers, postgresqlconf: [...EMBEDDED_POSTGRESQL_CONF] });
    } else {
      const loadDataDir = loadEmbeddedTemplate();
      pglite = new PGlite({ parsers, ...(loadDataDir ? { loadDataDir } : {}) });
    }
    return pglite;
  };
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite: open }) });
  return {
    db,
    kind: target.kind,
    close: async () => {
      await db.destroy();
      if (pglite && !pglite.closed) await pglite.close();
    },
  };
}

const execFileAsync = promisify(execFile);

/**
 * Creates a new (empty) cluster in a short-lived child process (create-embedded-cluster.ts
 * says why), in a folder beside `dataDir` that is renamed into place once complete: a start-up
 * killed half-way leaves no half-made cluster behind.
 */
async function createEmbeddedCluster(dataDir: string, migrate: boolean): Promise<void> {
  const parent = path.dirname(dataDir);
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const staging = path.join(parent, `.${path.basename(dataDir)}.creating-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  // The compiled server runs the compiled script; the sources (tests, tools) run it under tsx.
  const self = fileURLToPath(import.meta.url);
  const script = path.join(path.dirname(self), `create-embedded-cluster${path.extname(self)}`);
  const nodeArgs = self.endsWith(".ts") ? ["--import", "tsx"] : [];
  try {
    await execFileAsync(process.execPath, [...nodeArgs, script, staging, ...(migrate ? ["--migrate"] : [])], { maxBuffer: 1 << 20 });
    if (existsSync(dataDir) && readdirSync(dataDir).length === 0) rmdirSync(dataDir);
    renameSync(staging, dataDir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`could not create the embedded database in ${dataDir}: ${stderr || (error instanceof Error ? error.message : String(error))}`);
  }
}

/** One round trip to the database (the metrics' storage probe): resolves when it answers. */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
