/**
 * The internal port's successful unary calls, counted instead of logged one by one.
 *
 * Why. Backends call VerifySession on every request they serve: tens of thousands of identical
 * "ok" lines a second would drown what an operator reads logs for, and writing them was the largest
 * share of a hot call's cost that was Cypher's own (bench/). So each successful unary call adds to
 * its method's counters, and every `intervalMs` one "rpc summary" line per method that was called
 * says how many calls succeeded and how long they took (mean and longest). Everything else is still
 * logged per call by the adapter: every failed call (an operator's signal: refused tokens, bad
 * requests, outages), and every stream when it ends. With LOG_LEVEL=debug, successful calls get
 * their own line too, at debug level.
 */
import type { Logger } from "../logger.js";

export const DEFAULT_CALL_SUMMARY_INTERVAL_MS = 60_000;

/** One method's counters since the last summary. */
export class MethodTally {
  calls = 0;
  totalMs = 0;
  maxMs = 0;

  constructor(readonly method: string) {}

  /** Counts one successful call that took `durationMs`. */
  add(durationMs: number): void {
    this.calls++;
    this.totalMs += durationMs;
    if (durationMs > this.maxMs) this.maxMs = durationMs;
  }

  reset(): void {
    this.calls = 0;
    this.totalMs = 0;
    this.maxMs = 0;
  }
}

export class CallSummary {
  readonly #logger: Logger;
  readonly #fields: Record<string, unknown>;
  readonly #tallies: MethodTally[] = [];
  readonly #timer: NodeJS.Timeout;
  #sinceMs = performance.now();

  /** `fields` go on every summary line (the port's `listener` and `protocol`). */
  constructor(options: { logger: Logger; intervalMs?: number; fields?: Record<string, unknown> }) {
    this.#logger = options.logger;
    this.#fields = options.fields ?? {};
    const intervalMs = options.intervalMs ?? DEFAULT_CALL_SUMMARY_INTERVAL_MS;
    if (!(intervalMs > 0)) throw new TypeError("intervalMs must be > 0");
    this.#timer = setInterval(() => this.flush(), intervalMs).unref();
  }

  /** The counters of one method; taken once per method when its handler is built. */
  tally(method: string): MethodTally {
    const tally = new MethodTally(method);
    this.#tallies.push(tally);
    return tally;
  }

  /** Logs what was counted since the last summary (methods with no calls are left out), and resets. */
  flush(): void {
    const nowMs = performance.now();
    const intervalMs = Math.round(nowMs - this.#sinceMs);
    this.#sinceMs = nowMs;
    for (const tally of this.#tallies) {
      if (tally.calls === 0) continue;
      this.#logger.info("rpc summary", {
        method: tally.method,
        code: "ok",
        calls: tally.calls,
        durationMsMean: Math.round((tally.totalMs / tally.calls) * 100) / 100,
        durationMsMax: Math.round(tally.maxMs * 10) / 10,
        intervalMs,
        ...this.#fields,
      });
      tally.reset();
    }
  }

  /** Stops the timer after a last summary, so calls answered during a shutdown are counted too. */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}
