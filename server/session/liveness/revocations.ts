/**
 * Ending sessions so that every instance refuses their tokens at once, and this instance's
 * deny-list (tier 2, docs/architecture.md "Session liveness").
 *
 * Order: PostgreSQL first (each revoking transaction is numbered in commit order, see
 * revocation-log.ts), then KV tombstones, then the revocation epoch, then a message on the
 * `session-revocations` channel: `{"sessionIds":["<uuid>", ...],"seq":"<n>"}` (`seq` absent when
 * re-announcing old revocations).
 *
 * Listeners hear every revocation this instance learns of, its own included, and when delivery from
 * other instances was interrupted ("lost") and is back ("restored"): messages published in between
 * are gone for good, so whatever was derived from them must be rebuilt from PostgreSQL or the KV store.
 */
import type { Clock } from "../../clock.js";
import type { Logger } from "../../logger.js";
import type { DomainMetrics } from "../../metrics/domain-metrics.js";
import type { Db } from "../../storage/database.js";
import type { KeyValueStore } from "../../storage/kv/key-value-store.js";
import { beginRevocation } from "../revocation-log.js";
import { isUuid } from "../session-record.js";
import { revokeSessions, type RevocationReason } from "../session-store.js";
import { bumpRevocationEpoch } from "./local-session-cache.js";
import type { SessionCache } from "./session-cache.js";

export const REVOCATION_CHANNEL = "session-revocations";

/** Local deny-list entries beyond this many trigger a sweep of expired ones. */
const SWEEP_THRESHOLD = 10_000;
/** Announcements that failed (the KV store was down) are retried, backing off up to the last. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;

export type RevocationNotice =
  /** Sessions revoked, here or on another instance. */
  | { kind: "revoked"; sessionIds: string[] }
  /** Delivery from other instances stopped (lost) or resumed (restored) after an interruption. */
  | { kind: "lost" }
  | { kind: "restored" };

/**
 * Which sessions to revoke: by ids, by account, or both (ids confined to the account).
 * `alsoAnnounce` names sessions to tombstone even if PostgreSQL had them revoked already
 * (repairing a cache left live by an earlier failure); `exceptSessionIds` are left live. `before`
 * runs first in the transaction, ahead of the revocation lock (e.g. to lock the account's row, so
 * that no session can be created for it concurrently; throwing rolls everything back).
 * `alsoInTransaction` runs in the same transaction after the revocation (e.g. revoking the
 * account's device credentials); `audit` runs in it too, with the ids actually revoked (the account
 * changes run their writes there).
 */
export interface RevokeParams {
  sessionIds?: string[];
  userId?: string;
  exceptSessionIds?: string[];
  reason: RevocationReason;
  alsoAnnounce?: string[];
  before?: (trx: Db) => Promise<void>;
  alsoInTransaction?: (trx: Db) => Promise<void>;
  audit?: (trx: Db, revokedIds: string[]) => Promise<void>;
}

export class Revocations {
  readonly #db: Db;
  readonly #kv: KeyValueStore;
  readonly #cache: SessionCache;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: DomainMetrics | undefined;
  /** How long a revocation is denied locally: after this, every access token of the session has expired. */
  readonly #denyMs: number;
  /** Session id -> until when (ms, by the clock) to refuse it locally. */
  readonly #denied = new Map<string, number>();
  readonly #listeners = new Set<(notice: RevocationNotice) => void>();
  #unsubscribe: (() => Promise<void>) | undefined;
  #stopWatchingDelivery: (() => void) | undefined;
  /** Committed in PostgreSQL, but their tombstones, epoch or broadcast could not be written yet. */
  readonly #unannounced = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = RETRY_FIRST_MS;

  constructor(options: { db: Db; kv: KeyValueStore; cache: SessionCache; clock: Clock; logger: Logger; denyMs: number; metrics?: DomainMetrics }) {
    this.#metrics = options.metrics;
    this.#db = options.db;
    this.#kv = options.kv;
    this.#cache = options.cache;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#denyMs = options.denyMs;
  }

  /** Starts following revocations from every instance. Resolves once subscribed. */
  async start(): Promise<void> {
    this.#stopWatchingDelivery = this.#kv.onSubscriptionStateChange?.((state) => {
      if (state === "lost") this.#logger.warn("revocation broadcasts interrupted; relying on the shared KV store until they resume");
      else this.#logger.info("revocation broadcasts resumed");
      this.#tell({ kind: state });
    });
    this.#unsubscribe = await this.#kv.subscribe(REVOCATION_CHANNEL, (message) => this.#onMessage(message));
  }

  async close(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    this.#stopWatchingDelivery?.();
    this.#stopWatchingDelivery = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await unsubscribe?.();
    this.#denied.clear();
    this.#listeners.clear();
  }

  /** Hears every revocation this instance learns of, and delivery interruptions. */
  listen(listener: (notice: RevocationNotice) => void): () => void {
    const wrapped = (notice: RevocationNotice) => listener(notice);
    this.#listeners.add(wrapped);
    return () => {
      this.#listeners.delete(wrapped);
    };
  }

  /** Whether a revocation of this session was seen here recently. */
  isDenied(sessionId: string): boolean {
    const until = this.#denied.get(sessionId);
    if (until === undefined) return false;
    if (until > this.#clock.now().getTime()) return true;
    this.#denied.delete(sessionId);
    return false;
  }

  /** Refuses these (already revoked) sessions on this instance, without telling anyone. */
  denyLocally(sessionIds: string[]): void {
    if (sessionIds.length === 0) return;
    this.#deny(sessionIds);
    this.#tell({ kind: "revoked", sessionIds });
  }

  /** Revokes live sessions in PostgreSQL and, once that committed, announces them. Returns the ids revoked now. */
  async revoke(params: RevokeParams): Promise<string[]> {
    const at = this.#clock.now();
    const { ids: revoked, seq } = await this.#db.transaction().execute(async (trx) => {
      await params.before?.(trx);
      const couldRevoke = params.sessionIds === undefined || params.sessionIds.length > 0;
      const seq = couldRevoke ? await beginRevocation(trx) : undefined;
      const ids = await revokeSessions(trx, {
        sessionIds: params.sessionIds,
        userId: params.userId,
        exceptSessionIds: params.exceptSessionIds,
        reason: params.reason,
        at,
        seq,
      });
      await params.alsoInTransaction?.(trx);
      await params.audit?.(trx, ids);
      return { ids, seq };
    });
    const ids = [...new Set([...revoked, ...(params.alsoAnnounce ?? [])])];
    try {
      await this.announce(ids, revoked.length > 0 ? seq : undefined);
    } catch (error) {
      // PostgreSQL has it (instances that cannot reach the KV store read PostgreSQL); the shared
      // copies are repaired as soon as the KV store answers again. The caller still hears of it.
      this.#announceLater(ids);
      throw error;
    }
    return revoked;
  }

  /** Tombstones and broadcasts sessions already revoked in PostgreSQL. */
  async announce(sessionIds: string[], seq?: string): Promise<void> {
    if (sessionIds.length === 0) return;
    this.#deny(sessionIds);
    this.#tell({ kind: "revoked", sessionIds });
    await this.#cache.markRevoked(sessionIds);
    // Before returning: a call that begins after this on any instance sees it (local-session-cache.ts).
    await bumpRevocationEpoch(this.#kv);
    await this.#kv.publish(REVOCATION_CHANNEL, JSON.stringify(seq === undefined ? { sessionIds } : { sessionIds, seq }));
    this.#metrics?.count("revocation.published");
  }

  #announceLater(sessionIds: string[]): void {
    for (const id of sessionIds) this.#unannounced.add(id);
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const pending = [...this.#unannounced];
      this.#unannounced.clear();
      this.announce(pending).then(
        () => {
          this.#retryDelayMs = RETRY_FIRST_MS;
          this.#logger.info("announced revocations that had waited for the KV store", { sessions: pending.length });
        },
        () => {
          this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, RETRY_MAX_MS);
          this.#announceLater(pending);
        },
      );
    }, this.#retryDelayMs);
    this.#retryTimer.unref();
  }

  #onMessage(message: string): void {
    let ids: unknown;
    try {
      ids = (JSON.parse(message) as { sessionIds?: unknown }).sessionIds;
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids) || !ids.every(isUuid)) {
      this.#logger.warn("ignored a malformed revocation message", { channel: REVOCATION_CHANNEL });
      return;
    }
    this.#deny(ids);
    this.#tell({ kind: "revoked", sessionIds: ids });
  }

  #deny(sessionIds: string[]): void {
    const now = this.#clock.now().getTime();
    if (this.#denied.size > SWEEP_THRESHOLD) {
      for (const [id, until] of this.#denied) if (until <= now) this.#denied.delete(id);
    }
    for (const id of sessionIds) this.#denied.set(id, now + this.#denyMs);
  }

  #tell(notice: RevocationNotice): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(notice);
      } catch (error) {
        this.#logger.error("revocation listener failed", { error });
      }
    }
  }
}
