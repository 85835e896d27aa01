/**
 * The port for fast, shared, expiring state: OPAQUE login state, attempt counters, the session
 * cache, revocation broadcasts. Implemented by Redis (`redis-key-value-store.ts`, shared by every
 * instance) and in-process (`memory-key-value-store.ts`, ONE instance only: with several instances
 * each would have its own state). Both pass the same contract suite.
 *
 * Values are bytes or UTF-8 strings; every key that is set carries a TTL so nothing lives forever.
 */
export interface KeyValueStore {
  /** Stores `value` under `key` for `ttlMs`. With `onlyIfAbsent`, stores only if the key is absent. Returns whether it stored. */
  set(key: string, value: Uint8Array | string, ttlMs: number, options?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  /** The value, or null when absent or expired. */
  get(key: string): Promise<Uint8Array | null>;
  /** Atomically reads and deletes: of several concurrent callers, exactly one gets the value. */
  getDel(key: string): Promise<Uint8Array | null>;
  /** Deletes the keys (absent keys are ignored). */
  del(...keys: string[]): Promise<void>;
  /**
   * Atomically adds 1 to a counter. The TTL starts when the counter is created and is not extended
   * by later increments (a fixed window). Returns the new count and the milliseconds left.
   */
  increment(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }>;
  /**
   * Atomically takes back one `increment` of a counter that still exists, keeping its window; never
   * below zero, and never creates a key.
   */
  decrement(key: string): Promise<void>;
  /** Delivers `message` to every subscriber of `channel` on every instance sharing this store. */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel` until the returned function is called. Resolves once subscribed. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Optional: tells `listener` when delivery to this store's subscriptions was interrupted. "lost":
   * the connection that receives them dropped, and messages published from now on are lost (pub/sub
   * does not queue them). "restored": every subscription is active again; whatever was published
   * in between never arrives, so a listener that keeps state derived from messages must rebuild it.
   * Stores that cannot lose messages (in-process) leave it out. Returns a function that removes
   * the listener.
   */
  onSubscriptionStateChange?(listener: (state: "lost" | "restored") => void): () => void;
  /** Whether the backend answers now (for health). */
  ping(): Promise<boolean>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
