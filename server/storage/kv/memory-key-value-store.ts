/**
 * The in-process KeyValueStore: the default when REDIS_URL is unset. State lives in this process
 * only, so it is correct for ONE instance; several instances need Redis to share login state,
 * attempt counters and revocations.
 *
 * Expiry is lazy (checked on access) plus a periodic sweep, so memory stays bounded without a timer
 * per key. Operations are synchronous inside one event-loop turn, which makes them atomic.
 */
import type { Logger } from "../../logger.js";
import type { KeyValueStore } from "./key-value-store.js";

interface Entry {
  value: Uint8Array;
  expiresAtMs: number;
}

const encoder = new TextEncoder();

export class MemoryKeyValueStore implements KeyValueStore {
  readonly #entries = new Map<string, Entry>();
  readonly #counters = new Map<string, { count: number; expiresAtMs: number }>();
  readonly #subscribers = new Map<string, Set<(message: string) => void>>();
  readonly #sweep: NodeJS.Timeout;
  readonly #nowMs: () => number;
  readonly #logger: Logger | undefined;

  /**
   * `nowMs` is injectable so tests can move time; it defaults to the wall clock. `logger` receives
   * errors thrown by subscription handlers.
   */
  constructor(options: { nowMs?: () => number; sweepIntervalMs?: number; logger?: Logger } = {}) {
    this.#nowMs = options.nowMs ?? Date.now;
    this.#logger = options.logger;
    this.#sweep = setInterval(() => this.#removeExpired(), options.sweepIntervalMs ?? 30_000);
    this.#sweep.unref();
  }

  async set(key: string, value: Uint8Array | string, ttlMs: number, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    requirePositiveMs(ttlMs, "ttlMs");
    if (options.onlyIfAbsent && this.#live(key) !== undefined) return false;
    const bytes = typeof value === "string" ? encoder.encode(value) : Uint8Array.from(value);
    this.#entries.set(key, { value: bytes, expiresAtMs: this.#nowMs() + ttlMs });
    return true;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const entry = this.#live(key);
    return entry ? Uint8Array.from(entry.value) : null;
  }

  async getDel(key: string): Promise<Uint8Array | null> {
    const entry = this.#live(key);
    this.#entries.delete(key);
    return entry ? entry.value : null;
  }

  async del(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.#entries.delete(key);
      this.#counters.delete(key);
    }
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    requirePositiveMs(windowMs, "windowMs");
    const now = this.#nowMs();
    let counter = this.#counters.get(key);
    if (!counter || counter.expiresAtMs <= now) {
      counter = { count: 0, expiresAtMs: now + windowMs };
      this.#counters.set(key, counter);
    }
    counter.count += 1;
    return { count: counter.count, ttlMs: counter.expiresAtMs - now };
  }

  async decrement(key: string): Promise<void> {
    const counter = this.#counters.get(key);
    if (counter && counter.expiresAtMs > this.#nowMs() && counter.count > 0) counter.count -= 1;
  }

  async publish(channel: string, message: string): Promise<void> {
    for (const handler of this.#subscribers.get(channel) ?? []) {
      // Delivered asynchronously, as Redis would: a publisher never runs subscriber code inline.
      // A throwing handler must neither starve the others nor escape as an uncaught exception.
      queueMicrotask(() => {
        try {
          handler(message);
        } catch (error) {
          this.#logger?.error("subscription handler failed", { channel, error });
        }
      });
    }
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    let handlers = this.#subscribers.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.#subscribers.set(channel, handlers);
    }
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const subscription = (message: string) => handler(message);
    handlers.add(subscription);
    return async () => {
      handlers.delete(subscription);
    };
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#entries.clear();
    this.#counters.clear();
    this.#subscribers.clear();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAtMs <= this.#nowMs()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #removeExpired(): void {
    const now = this.#nowMs();
    for (const [key, entry] of this.#entries) if (entry.expiresAtMs <= now) this.#entries.delete(key);
    for (const [key, counter] of this.#counters) if (counter.expiresAtMs <= now) this.#counters.delete(key);
  }
}

/** Same rule as Redis (which rejects a zero or negative expiry): a caller's bug, not bad input. */
function requirePositiveMs(ms: number, name: string): void {
  if (!Number.isFinite(ms) || ms <= 0) throw new TypeError(`${name} must be a positive number of milliseconds, got ${ms}`);
}
