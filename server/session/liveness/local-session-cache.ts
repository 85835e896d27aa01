/**
 * Session liveness in this process's memory (tier 3 of docs/architecture.md, "Session liveness"), so
 * VerifySession needs no KV round trip per call, without ever answering "live" for a session whose
 * revocation completed before the call began.
 *
 * A broadcast alone cannot promise that (it may arrive late, or never: Redis does not queue pub/sub
 * messages). So every revocation writes a fresh random *revocation epoch* before it returns
 * (`bumpRevocationEpoch`), and every call waits for one read of the epoch sent after it arrived
 * (`sync`, shared by all calls of one event-loop turn); a changed epoch drops every copy. Copies also
 * expire after `ttlMs`, bounding how long `last_refreshed_at` may lag. A copy read from the KV store is
 * kept only if no epoch change was seen while that read was in flight (`generation`).
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../../clock.js";
import type { KeyValueStore } from "../../storage/kv/key-value-store.js";
import type { SessionRecord } from "../session-record.js";

export const REVOCATION_EPOCH_KEY = "session-revocation-epoch";
/** The epoch key must carry a TTL; a day without any revocation only costs one cache flush. */
const EPOCH_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_LOCAL_SESSION_TTL_MS = 2_000;
export const DEFAULT_LOCAL_SESSION_ENTRIES = 50_000;

/** Marks that a revocation happened; call after the tombstones are written, before returning. */
export async function bumpRevocationEpoch(kv: KeyValueStore): Promise<void> {
  await kv.set(REVOCATION_EPOCH_KEY, randomUUID(), EPOCH_TTL_MS);
}

interface Entry {
  session: SessionRecord;
  expiresAtMs: number;
}

export class LocalSessionCache {
  readonly #kv: KeyValueStore;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, Entry>();
  /** The epoch value last read; undefined before the first read. */
  #epoch: string | null | undefined;
  #generation = 0;
  /** The read that calls arriving now will wait for; it is sent at the end of this loop turn. */
  #nextSync: Promise<void> | undefined;

  constructor(options: { kv: KeyValueStore; clock: Clock; ttlMs?: number; maxEntries?: number }) {
    this.#kv = options.kv;
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs ?? DEFAULT_LOCAL_SESSION_TTL_MS;
    this.#maxEntries = options.maxEntries ?? DEFAULT_LOCAL_SESSION_ENTRIES;
  }

  /** Changes whenever copies are dropped wholesale; pass the value read before a KV read to `set`. */
  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Resolves once the revocation epoch has been read by a read sent after this call: from then on,
   * `get` never returns a session revoked before the call. Rejects if the KV store cannot be read.
   */
  sync(): Promise<void> {
    if (this.#ttlMs <= 0) return Promise.resolve();
    return (this.#nextSync ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        // Calls arriving from now on need a read sent after them: the next one.
        this.#nextSync = undefined;
        this.#kv.get(REVOCATION_EPOCH_KEY).then((raw) => {
          const epoch = raw === null ? null : Buffer.from(raw).toString("latin1");
          if (epoch !== this.#epoch) {
            this.#epoch = epoch;
            this.clear();
          }
          resolve();
        }, reject);
      });
    }));
  }

  /** A copy of a live session, if one is fresh; only meaningful after `sync()`. */
  get(sessionId: string): SessionRecord | undefined {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.#clock.now().getTime()) {
      this.#entries.delete(sessionId);
      return undefined;
    }
    return entry.session;
  }

  /** Keeps a copy of a session read as live, unless copies were dropped since `generation` was read. */
  set(session: SessionRecord, generation: number): void {
    if (this.#ttlMs <= 0 || generation !== this.#generation) return;
    const expiresAtMs = Math.min(this.#clock.now().getTime() + this.#ttlMs, session.expiresAt.getTime());
    this.#entries.delete(session.id);
    this.#entries.set(session.id, { session, expiresAtMs });
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** Drops the copies of these sessions (changed or revoked by this instance). */
  forget(sessionIds: Iterable<string>): void {
    for (const id of sessionIds) this.#entries.delete(id);
    this.#generation++;
  }

  /**
   * The epoch could not be read (the KV store is down): revocations made meanwhile could not bump
   * it either, so drop every copy and treat the next value read as a change.
   */
  distrust(): void {
    this.#epoch = undefined;
    this.clear();
  }

  /** Drops every copy. */
  clear(): void {
    this.#entries.clear();
    this.#generation++;
  }
}
