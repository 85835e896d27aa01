/**
 * Removes pending accounts whose enrollment window has passed, freeing their usernames. Queries
 * already treat such rows as absent; this sweep only reclaims them, so its interval is about
 * housekeeping, not correctness. One timer per process (never one per account), and every
 * instance may run it: rows are claimed with FOR UPDATE SKIP LOCKED, so two sweepers (or a sweep
 * and an enrollment being confirmed) never block or double-count each other.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { type AuditEntry, recordAudits } from "./audit-log.js";
import type { Db } from "./database.js";
import { removeExpiredPendingAccounts } from "./user-store.js";

/** Rows per transaction: a large backlog (after downtime) is removed in bounded steps. */
const BATCH_SIZE = 500;

/**
 * Deletes every pending account with `enrollment_expires_at <= now` (its recovery codes and any
 * other children go by ON DELETE CASCADE) and writes one "enrollment.expired" audit row per
 * account in the same transaction. Returns how many accounts were removed.
 */
export async function sweepExpiredEnrollments(db: Db, now: Date, logger?: Logger): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await db.transaction().execute(async (trx) => {
      const rows = await removeExpiredPendingAccounts(trx, now, BATCH_SIZE);
      const entries: AuditEntry[] = rows.map((row) => ({
        at: now,
        event: "enrollment.expired",
        userId: row.id,
        username: row.username,
      }));
      await recordAudits(trx, entries);
      return rows.length;
    });
    total += removed;
    if (removed < BATCH_SIZE) break;
  }
  if (total > 0) logger?.info("expired enrollments removed", { count: total });
  return total;
}

export interface EnrollmentSweeperOptions {
  db: Db;
  clock: Clock;
  /** Seconds between sweeps (fractions allowed, for tests). */
  intervalSeconds: number;
  logger: Logger;
}

/**
 * Sweeps every `intervalSeconds` until the returned function is called. The timer is unref'd (it
 * never keeps the process alive), sweeps never overlap, and a failing sweep (database down) is
 * logged and retried at the next tick instead of crashing the process. The returned function
 * resolves once any sweep in progress has finished, so the database can be closed after it.
 */
export function startEnrollmentSweeper(options: EnrollmentSweeperOptions): () => Promise<void> {
  const { db, clock, logger } = options;
  if (!(options.intervalSeconds > 0)) throw new TypeError(`intervalSeconds must be positive, got ${options.intervalSeconds}`);
  let running: Promise<void> | undefined;
  let stopped = false;

  const tick = () => {
    if (running || stopped) return;
    running = sweepExpiredEnrollments(db, clock.now(), logger)
      .then(
        () => undefined,
        (error: unknown) => logger.warn("enrollment sweep failed; will retry", { error }),
      )
      .finally(() => {
        running = undefined;
      });
  };

  const timer = setInterval(tick, Math.max(1, Math.round(options.intervalSeconds * 1000)));
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
