/**
 * Refuses to start an instance that would silently disagree with another one on the same database.
 *
 * Without REDIS_URL an instance keeps attempt limits, login states and revocation broadcasts in its
 * own process: a second instance on the same database would keep its own, and neither would see
 * the other's. So, on PostgreSQL, every instance holds a session-level advisory lock for its whole
 * life on a connection of its own: EXCLUSIVE with in-process state, SHARED with Redis. Instances
 * with Redis coexist; an instance with in-process state coexists with none. The lock is keyed by
 * the current schema, so deployments (and test runs) in different schemas of one database do not
 * see each other. It dies with the connection, so a crashed instance never blocks the next start.
 *
 * Embedded PostgreSQL (PGlite): see claimEmbeddedDataDir.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";

export type InstanceMode = "in-process" | "redis";

export class InstanceConflictError extends Error {
  constructor(readonly mode: InstanceMode | "embedded", where = "") {
    super(
      mode === "embedded"
        ? `another Cypher instance uses the embedded database in ${where}; a data directory serves one process: stop it, or give this one its own DATA_DIR`
        : mode === "in-process"
        ? "another Cypher instance uses this database (same schema); without REDIS_URL an instance keeps its limits, login states and revocations in its own process and must be the only one: set REDIS_URL on every instance, or stop the other one"
        : "another Cypher instance uses this database (same schema) without REDIS_URL, keeping its state in its own process: set REDIS_URL on every instance, or stop that one",
    );
    this.name = "InstanceConflictError";
  }
}

export interface InstanceGuard {
  /** Releases the lock (closes its connection). */
  release(): Promise<void>;
}

/** Takes the instance lock on `url`, or throws InstanceConflictError when another instance forbids it. */
export async function acquireInstanceGuard(url: string, mode: InstanceMode): Promise<InstanceGuard> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  // A lost connection means a lost lock; nothing in this process can restore that guarantee
  // silently, and the database's other connections will report the outage on their own.
  client.on("error", () => {});
  await client.connect();
  try {
    const lock = mode === "in-process" ? "pg_try_advisory_lock" : "pg_try_advisory_lock_shared";
    const { rows } = await client.query<{ locked: boolean }>(
      `select ${lock}(hashtext('cypher-instance:' || coalesce(current_schema(), ''))) as locked`,
    );
    if (!rows[0]?.locked) throw new InstanceConflictError(mode);
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return { release: () => client.end().catch(() => {}) };
}

/**
 * PGlite does not lock its data directory: two processes opening the same one would each write it
 * as their own and corrupt it. The serving process claims DATA_DIR with a file naming its process
 * id; a claim by a process that is still alive refuses the start, a stale one (a crash) is taken over.
 */
export async function claimEmbeddedDataDir(dataDir: string): Promise<InstanceGuard> {
  const file = path.join(dataDir, "cypher.pid");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(readFileSync(file, "utf8"), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new InstanceConflictError("embedded", `${dataDir} (process ${owner})`);
      }
      rmSync(file, { force: true });
    }
  }
  return {
    release: async () => {
      try {
        if (readFileSync(file, "utf8") === String(process.pid)) rmSync(file, { force: true });
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
