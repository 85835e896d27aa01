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
 * Embedded PostgreSQL (PGlite) needs no lock here: its data directory belongs to one process.
 */
import pg from "pg";

export type InstanceMode = "in-process" | "redis";

export class InstanceConflictError extends Error {
  constructor(readonly mode: InstanceMode) {
    super(
      mode === "in-process"
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
