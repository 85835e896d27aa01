/**
 * What every pool of worker threads (OPAQUE arithmetic, Ed25519 checks) does the same way: start
 * all its workers or none, and replace a worker that dies, at once, or after a pause if it died
 * young, so a worker that cannot start does not turn into a crash loop.
 */

/** A worker that dies within this long of starting is restarted only after `RESTART_PAUSE_MS`. */
export const EARLY_DEATH_MS = 1_000;
export const RESTART_PAUSE_MS = 1_000;

/** Runs `spawn` `count` times in parallel; if any start fails, runs `close` and rethrows. */
export async function startAllOrNone(count: number, spawn: () => Promise<void>, close: () => Promise<void>): Promise<void> {
  try {
    await Promise.all(Array.from({ length: count }, () => spawn()));
  } catch (error) {
    await close();
    throw error;
  }
}

/** Pending replacements of dead workers; `stop()` (when the pool closes) cancels them. */
export class WorkerRestarts {
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  /** Calls `restart` now, or after a pause if the worker started less than EARLY_DEATH_MS ago. */
  schedule(startedAtMs: number, restart: () => void): void {
    if (this.#stopped) return;
    if (Date.now() - startedAtMs >= EARLY_DEATH_MS) {
      restart();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) restart();
    }, RESTART_PAUSE_MS);
    timer.unref();
    this.#timers.add(timer);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
