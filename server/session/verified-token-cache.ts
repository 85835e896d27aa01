/**
 * Access tokens whose signature has been checked, so that the same token presented again (a
 * backend presents it on every request it serves) costs one SHA-256 and a map lookup instead of
 * an Ed25519 verification.
 *
 *  - Keyed by the SHA-256 of the token, never the token: a heap dump holds no usable credential.
 *  - An entry is never used past the token's own `exp`: every read checks it against the clock.
 *  - Bounded: beyond `maxEntries` the least recently used entry goes.
 *  - What it remembers is only "this string carries a valid signature and these claims", which a
 *    revocation does not change: whether the session is still live is checked after it, on every
 *    call (session-authenticator.ts). `forgetSessions` still drops a revoked session's entries on
 *    every instance (it runs on each revocation message), since they will only ever be refused.
 */
import { hash } from "node:crypto";
import type { Clock } from "../clock.js";

export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 50_000;

interface Entry<T> {
  value: T;
  sessionId: string;
  expiresAtMs: number;
}

export class VerifiedTokenCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  /** Session id -> keys of its cached tokens, so a revocation finds them. */
  readonly #bySession = new Map<string, Set<string>>();
  readonly #clock: Clock;
  readonly #maxEntries: number;
  /** Lookups so far, for metrics. */
  #hits = 0;
  #misses = 0;

  constructor(options: { clock: Clock; maxEntries?: number }) {
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES;
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 0) throw new TypeError("maxEntries must be a whole number >= 0");
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Lookups that found a live entry and that did not, since the cache was made; entries held now. */
  stats(): { hits: number; misses: number; entries: number } {
    return { hits: this.#hits, misses: this.#misses, entries: this.#entries.size };
  }

  /** The key of a token: its SHA-256 (base64, 44 characters). */
  static keyOf(token: string): string {
    return hash("sha256", token, "base64");
  }

  /** What was remembered for this token, unless it has expired (by the clock) since. */
  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (entry.expiresAtMs <= this.#clock.now().getTime()) {
      this.#misses++;
      this.#delete(key, entry);
      return undefined;
    }
    this.#hits++;
    // Most recently used last: Map keeps insertion order, so eviction takes the first key.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Remembers a verified token until `expiresAt` (its exp claim). */
  set(key: string, value: T, sessionId: string, expiresAt: Date): void {
    if (this.#maxEntries === 0) return;
    const expiresAtMs = expiresAt.getTime();
    if (expiresAtMs <= this.#clock.now().getTime()) return;
    const previous = this.#entries.get(key);
    if (previous) this.#delete(key, previous);
    this.#entries.set(key, { value, sessionId, expiresAtMs });
    let keys = this.#bySession.get(sessionId);
    if (!keys) this.#bySession.set(sessionId, (keys = new Set()));
    keys.add(key);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#delete(oldest, this.#entries.get(oldest)!);
    }
  }

  /** Drops every entry of these sessions. */
  forgetSessions(sessionIds: Iterable<string>): void {
    for (const sessionId of sessionIds) {
      const keys = this.#bySession.get(sessionId);
      if (!keys) continue;
      this.#bySession.delete(sessionId);
      for (const key of keys) this.#entries.delete(key);
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#bySession.clear();
  }

  #delete(key: string, entry: Entry<T>): void {
    this.#entries.delete(key);
    const keys = this.#bySession.get(entry.sessionId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.#bySession.delete(entry.sessionId);
  }
}
