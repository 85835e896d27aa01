/**
 * "Is this session live?" for every caller, and the writes that keep the answer true: the tiers of
 * docs/architecture.md ("Session liveness"), as one object built from its ports by
 * `createSessionLiveness`. The tiers (verified-token-cache.ts, revocations.ts,
 * local-session-cache.ts, session-cache.ts) are private to this folder.
 */
import type { Clock } from "../../clock.js";
import { CypherError, unauthenticated } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { DomainMetrics } from "../../metrics/domain-metrics.js";
import type { Db } from "../../storage/database.js";
import type { KeyValueStore } from "../../storage/kv/key-value-store.js";
import { revocationsAfter, type RevocationEvent } from "../revocation-log.js";
import { sessionState, type SessionRecord } from "../session-record.js";
import { findSession } from "../session-store.js";
import type { AccessClaims, SessionTokens } from "../session-tokens.js";
import { LocalSessionCache } from "./local-session-cache.js";
import { Revocations, type RevocationNotice, type RevokeParams } from "./revocations.js";
import { SessionCache } from "./session-cache.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

/**
 * How long a revocation matters beyond the access-token lifetime: the deny-list, the tombstones and
 * WatchRevocations' catch-up all keep a revocation for the access-token lifetime plus this.
 */
const REVOCATION_WINDOW_MARGIN_MS = 60_000;

export interface SessionLivenessPorts {
  db: Db;
  kv: KeyValueStore;
  clock: Clock;
  logger: Logger;
  metrics?: DomainMetrics;
  /** Checks an access token's signature, expiry and purpose. */
  tokens: Pick<SessionTokens, "verifyAccess">;
}

export interface SessionLivenessConfig {
  accessTtlSeconds: number;
  /** Verified access tokens kept in memory (default 50,000; 0 turns the cache off). */
  verifiedTokenCacheEntries?: number;
  /** How long an in-process copy of a live session may answer (default 2 s; 0 reads the KV store every call). */
  localSessionTtlMs?: number;
}

/** Builds the tiers and starts following the revocation broadcast. Call `close()` before the KV store closes. */
export async function createSessionLiveness(ports: SessionLivenessPorts, config: SessionLivenessConfig): Promise<SessionLiveness> {
  const liveness = new SessionLiveness(ports, config);
  await liveness.start();
  return liveness;
}

export class SessionLiveness {
  readonly #tokens: Pick<SessionTokens, "verifyAccess">;
  readonly #db: Db;
  readonly #clock: Clock;
  /** Every tier keeps a revocation this long (ms): after it, every access token of the session has expired. */
  readonly #windowMs: number;
  readonly #verified: VerifiedTokenCache<AccessClaims>;
  readonly #revocations: Revocations;
  readonly #local: LocalSessionCache;
  readonly #cache: SessionCache;
  /** The KV store failed (or was declared untrusted) and has not been trusted again since. */
  #outage = false;
  #recovery: Promise<void> | undefined;

  constructor(ports: SessionLivenessPorts, config: SessionLivenessConfig) {
    const { db, kv, clock, logger, metrics } = ports;
    this.#tokens = ports.tokens;
    this.#db = db;
    this.#clock = clock;
    this.#windowMs = config.accessTtlSeconds * 1000 + REVOCATION_WINDOW_MARGIN_MS;
    this.#verified = new VerifiedTokenCache<AccessClaims>({ clock, maxEntries: config.verifiedTokenCacheEntries });
    this.#local = new LocalSessionCache({ kv, clock, ttlMs: config.localSessionTtlMs });
    this.#cache = new SessionCache({ kv, db, clock, liveTtlMs: config.accessTtlSeconds * 1000, tombstoneTtlMs: this.#windowMs, local: this.#local });
    this.#revocations = new Revocations({ db, kv, cache: this.#cache, clock, logger, denyMs: this.#windowMs, metrics });
    this.#revocations.listen((notice) => {
      if (notice.kind === "revoked") {
        this.#verified.forgetSessions(notice.sessionIds);
        this.#local.forget(notice.sessionIds);
      }
      // Broadcasts were missed: nothing kept in memory is trusted any more (the epoch check would
      // catch it anyway; this only makes it immediate).
      if (notice.kind === "restored") this.#local.clear();
    });
    metrics?.watch({ verifiedTokenCache: () => this.#verified.stats() });
  }

  /** Starts following revocations from every instance. Resolves once subscribed. */
  start(): Promise<void> {
    return this.#revocations.start();
  }

  /** Stops following revocations (call it on shutdown, before the KV store closes). */
  async close(): Promise<void> {
    this.#verified.clear();
    await this.#revocations.close();
  }

  /** The live session of an access token; Unauthenticated TOKEN_EXPIRED / TOKEN_REVOKED / TOKEN_INVALID otherwise. */
  async sessionFor(accessToken: string): Promise<SessionRecord> {
    const key = VerifiedTokenCache.keyOf(accessToken);
    const claims = this.#verified.get(key) ?? (await this.#verify(key, accessToken));
    if (this.#revocations.isDenied(claims.sessionId)) throw unauthenticated("TOKEN_REVOKED");

    let session: SessionRecord;
    try {
      await this.#local.sync();
      if (this.#outage) await (this.#recovery ??= this.#recover());
      // The broadcast may have arrived while the epoch was read.
      if (this.#revocations.isDenied(claims.sessionId)) throw unauthenticated("TOKEN_REVOKED");
      session = this.#local.get(claims.sessionId) ?? (await this.#shared(claims.sessionId));
    } catch (error) {
      if (!isKvUnavailable(error)) throw error;
      this.distrustEverything();
      session = await this.#fromDatabase(claims.sessionId);
    }

    // The cache entry may be older than the session's absolute end; the clock decides.
    if (sessionState(session, this.#clock.now()) === "expired") throw unauthenticated("TOKEN_EXPIRED");
    // Only a signing-key compromise could produce this; refuse rather than answer for another account.
    if (session.userId !== claims.userId) throw unauthenticated("TOKEN_INVALID");
    return session;
  }

  /**
   * Stops trusting the KV store and every copy derived from it (it was unreachable, or may have lost
   * writes, e.g. in a failover): calls read PostgreSQL until one of them can read the KV store
   * again, which first reads the last window's revocations into the deny-list.
   */
  distrustEverything(): void {
    this.#outage = true;
    this.#local.distrust();
  }

  /**
   * Revokes live sessions in PostgreSQL (by ids, by account, or both), then makes every instance
   * refuse them (`invalidate`). Returns the ids revoked now; see RevokeParams for the options.
   */
  revoke(params: RevokeParams): Promise<string[]> {
    return this.#revocations.revoke(params);
  }

  /** Sessions already revoked in PostgreSQL: tombstones, a new epoch and a broadcast, before it returns. */
  invalidate(sessionIds: string[]): Promise<void> {
    return this.#revocations.announce(sessionIds);
  }

  /** Writes the shared copy of a session just created; never over a tombstone. */
  fill(session: SessionRecord): Promise<void> {
    return this.#cache.fill(session);
  }

  /** Replaces the shared copy of a session just changed in PostgreSQL (re-tombstoned if it was revoked meanwhile). */
  replace(session: SessionRecord): Promise<void> {
    return this.#cache.replace(session);
  }

  /** Hears every revocation this instance learns of, and interruptions of the broadcast. */
  listen(listener: (notice: RevocationNotice) => void): () => void {
    return this.#revocations.listen(listener);
  }

  /**
   * Revocations numbered above `afterSeq` that still matter (made within the window), oldest first,
   * a page at a time, of `userId`'s sessions only when given.
   */
  recentRevocations(afterSeq: bigint, options: { userId?: string } = {}): AsyncGenerator<RevocationEvent[]> {
    const revokedSince = new Date(this.#clock.now().getTime() - this.#windowMs);
    return revocationPages(this.#db, { afterSeq, revokedSince, userId: options.userId });
  }

  /** After a KV outage: deny what was revoked lately, whether or not its tombstones were written. */
  async #recover(): Promise<void> {
    try {
      const ids: string[] = [];
      for await (const events of this.recentRevocations(0n)) for (const event of events) ids.push(...event.sessionIds);
      this.#revocations.denyLocally(ids);
      this.#local.clear();
      this.#outage = false;
    } finally {
      this.#recovery = undefined;
    }
  }

  async #verify(key: string, accessToken: string): Promise<AccessClaims> {
    const { userId, sessionId, username, token } = await this.#tokens.verifyAccess(accessToken);
    const claims: AccessClaims = { userId, sessionId, username };
    this.#verified.set(key, claims, sessionId, token.expiresAt);
    return claims;
  }

  /** The session from the KV cache (or PostgreSQL), kept in memory when live. */
  async #shared(sessionId: string): Promise<SessionRecord> {
    const generation = this.#local.generation;
    const cached = await this.#cache.get(sessionId);
    if (cached.kind === "revoked") throw unauthenticated("TOKEN_REVOKED");
    const session = cached.kind === "live" ? cached.session : await this.#load(sessionId);
    if (sessionState(session, this.#clock.now()) === "live") this.#local.set(session, generation);
    return session;
  }

  async #load(sessionId: string): Promise<SessionRecord> {
    const session = await this.#fromDatabase(sessionId, { onRevoked: () => this.#cache.markRevoked([sessionId]) });
    if (sessionState(session, this.#clock.now()) === "live") await this.#cache.fill(session);
    return session;
  }

  /** The session as PostgreSQL has it; TOKEN_REVOKED if it was revoked or no longer exists. */
  async #fromDatabase(sessionId: string, options: { onRevoked?: () => Promise<void> } = {}): Promise<SessionRecord> {
    const session = await findSession(this.#db, sessionId);
    // A token we signed whose session is gone (the account was deleted): as good as revoked.
    if (session === null) throw unauthenticated("TOKEN_REVOKED");
    if (sessionState(session, this.#clock.now()) === "revoked") {
      await options.onRevoked?.();
      throw unauthenticated("TOKEN_REVOKED");
    }
    return session;
  }
}

/** Every page of `revocationsAfter` from `afterSeq` on: the one loop over the revocation log. */
async function* revocationPages(db: Db, params: { afterSeq: bigint; revokedSince: Date; userId?: string }): AsyncGenerator<RevocationEvent[]> {
  let after = params.afterSeq;
  for (let more = true; more; ) {
    const page = await revocationsAfter(db, { afterSeq: after, revokedSince: params.revokedSince, userId: params.userId });
    more = page.more;
    after = page.events.at(-1)?.seq ?? after;
    if (page.events.length > 0) yield page.events;
  }
}

/** The KV store could not be reached (the Redis store reports that as Unavailable). */
function isKvUnavailable(error: unknown): boolean {
  return error instanceof CypherError && error.code === "unavailable";
}
