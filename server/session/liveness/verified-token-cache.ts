/**
 * Access tokens whose signature has been checked, so that the same token presented again (a
 * backend presents it on every request it serves) costs one SHA-256 and a lookup instead of an
 * Ed25519 verification.
 *
 *  - Keyed by the SHA-256 of the token, never the token: a heap dump holds no usable credential.
 *  - An entry is never used past the token's own `exp`: lru-cache checks every read against the
 *    injected clock.
 *  - Bounded: beyond `maxEntries` the least recently used entry goes (lru-cache; it looks entries
 *    up several times faster than the Map-based cache it replaced, see docs/architecture.md).
 *  - What it remembers is only "this string carries a valid signature and these claims", which a
 *    revocation does not change: whether the session is still live is checked after it, on every
 *    call (session-liveness.ts). `forgetSessions` still drops a revoked session's entries on
 *    every instance (it runs on each revocation message), since they will only ever be refused.
 */
import { hash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Clock } from "../../clock.js";

export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 50_000;

interface Entry<T> {
  value: T;
  sessionId: string;
}

export class VerifiedTokenCache<T> {
  readonly #entries: LRUCache<string, Entry<T>> | undefined;
  /** Session id -> keys of its cached tokens, so a revocation finds them; kept in step by `dispose`. */
  readonly #bySession = new Map<string, Set<string>>();
  readonly #clock: Clock;
  /** Lookups so far, for metrics. */
  #hits = 0;
  #misses = 0;

  constructor(options: { clock: Clock; maxEntries?: number }) {
    this.#clock = options.clock;
    const maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new TypeError("maxEntries must be a whole number >= 0");
    if (maxEntries === 0) return;
    this.#entries = new LRUCache<string, Entry<T>>({
      max: maxEntries,
      // Every staleness check reads the clock (tests move a ManualClock; expiry is never late).
      ttlResolution: 0,
      perf: { now: () => options.clock.now().getTime() },
      dispose: (entry, key) => this.#unindex(entry.sessionId, key),
    });
  }

  get size(): number {
    return this.#entries?.size ?? 0;
  }

  /** Lookups that found a live entry and that did not, since the cache was made; entries held now. */
  stats(): { hits: number; misses: number; entries: number } {
    return { hits: this.#hits, misses: this.#misses, entries: this.size };
  }

  /** The key of a token: its SHA-256 (base64, 44 characters). */
  static keyOf(token: string): string {
    return hash("sha256", token, "base64");
  }

  /** What was remembered for this token, unless it has expired (by the clock) since. */
  get(key: string): T | undefined {
    const entry = this.#entries?.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return entry.value;
  }

  /** Remembers a verified token until `expiresAt` (its exp claim). */
  set(key: string, value: T, sessionId: string, expiresAt: Date): void {
    if (!this.#entries) return;
    // lru-cache calls an entry stale once its age EXCEEDS the ttl; the token is expired AT exp.
    const ttlMs = expiresAt.getTime() - this.#clock.now().getTime() - 1;
    if (ttlMs <= 0) return;
    this.#entries.set(key, { value, sessionId }, { ttl: ttlMs });
    let keys = this.#bySession.get(sessionId);
    if (!keys) this.#bySession.set(sessionId, (keys = new Set()));
    keys.add(key);
  }

  /** Drops every entry of these sessions. */
  forgetSessions(sessionIds: Iterable<string>): void {
    if (!this.#entries) return;
    for (const sessionId of sessionIds) {
      const keys = this.#bySession.get(sessionId);
      if (!keys) continue;
      for (const key of [...keys]) this.#entries.delete(key);
    }
  }

  clear(): void {
    this.#entries?.clear();
    this.#bySession.clear();
  }

  #unindex(sessionId: string, key: string): void {
    const keys = this.#bySession.get(sessionId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.#bySession.delete(sessionId);
  }
}
