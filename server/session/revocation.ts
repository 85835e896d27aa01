/**
 * Ending sessions so that every instance refuses their tokens at once.
 *
 * Order: PostgreSQL first (the truth), then KV tombstones (see session-cache.ts), then a message
 * on the `session-revocations` channel. Every instance subscribes and keeps the ids in a local
 * deny-list for as long as an access token can live, consulted before the KV cache: so a revocation
 * reaches an instance both through the shared KV and through the broadcast, and a backend following
 * the channel (offline verifiers) learns of it too. Message: `{"sessionIds":["<uuid>", ...]}`.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { Db } from "../storage/database.js";
import type { KeyValueStore } from "../storage/kv/key-value-store.js";
import type { SessionCache } from "./session-cache.js";
import { isUuid } from "./session-record.js";
import { revokeSessions, type RevocationReason } from "./session-store.js";

export const REVOCATION_CHANNEL = "session-revocations";

/** Local deny-list entries beyond this many trigger a sweep of expired ones. */
const SWEEP_THRESHOLD = 10_000;

export class Revocations {
  readonly #db: Db;
  readonly #kv: KeyValueStore;
  readonly #cache: SessionCache;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #rememberMs: number;
  /** Session id -> until when (ms, by the clock) to refuse it locally. */
  readonly #denied = new Map<string, number>();
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(options: { db: Db; kv: KeyValueStore; cache: SessionCache; clock: Clock; logger: Logger; accessTtlSeconds: number }) {
    this.#db = options.db;
    this.#kv = options.kv;
    this.#cache = options.cache;
    this.#clock = options.clock;
    this.#logger = options.logger;
    // After this, every access token of a revoked session has expired on its own.
    this.#rememberMs = options.accessTtlSeconds * 1000 + 60_000;
  }

  /** Starts following revocations from every instance. Resolves once subscribed. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#kv.subscribe(REVOCATION_CHANNEL, (message) => this.#onMessage(message));
  }

  async close(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.();
    this.#denied.clear();
  }

  /** Whether a revocation of this session was seen here recently. */
  isDenied(sessionId: string): boolean {
    const until = this.#denied.get(sessionId);
    if (until === undefined) return false;
    if (until > this.#clock.now().getTime()) return true;
    this.#denied.delete(sessionId);
    return false;
  }

  /**
   * Revokes live sessions in PostgreSQL (by ids, by account, or both: ids confined to the account)
   * and announces them. `audit` runs in the same transaction with the ids actually revoked.
   * `alsoAnnounce` names sessions to tombstone even if PostgreSQL had them revoked already
   * (repairing a cache left live by an earlier failure). Returns the ids revoked now.
   */
  async revoke(params: {
    sessionIds?: string[];
    userId?: string;
    reason: RevocationReason;
    alsoAnnounce?: string[];
    audit?: (trx: Db, revokedIds: string[]) => Promise<void>;
  }): Promise<string[]> {
    const at = this.#clock.now();
    const revoked = await this.#db.transaction().execute(async (trx) => {
      const ids = await revokeSessions(trx, { sessionIds: params.sessionIds, userId: params.userId, reason: params.reason, at });
      await params.audit?.(trx, ids);
      return ids;
    });
    await this.announce([...new Set([...revoked, ...(params.alsoAnnounce ?? [])])]);
    return revoked;
  }

  /** Tombstones and broadcasts sessions already revoked in PostgreSQL. */
  async announce(sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    this.#deny(sessionIds);
    await this.#cache.markRevoked(sessionIds);
    await this.#kv.publish(REVOCATION_CHANNEL, JSON.stringify({ sessionIds }));
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
  }

  #deny(sessionIds: string[]): void {
    const now = this.#clock.now().getTime();
    if (this.#denied.size > SWEEP_THRESHOLD) {
      for (const [id, until] of this.#denied) if (until <= now) this.#denied.delete(id);
    }
    for (const id of sessionIds) this.#denied.set(id, now + this.#rememberMs);
  }
}
