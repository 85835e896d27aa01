/**
 * From an access token to a live session: VerifySession, and the Bearer calls. The hot path.
 *
 *   1. signature, expiry and purpose (no I/O); a token verified before is found in the
 *      verified-token cache (a SHA-256 and a map lookup, see verified-token-cache.ts);
 *   2. this instance's deny-list of revocations it has heard of (no I/O);
 *   3. the in-process copy of the session, once the revocation epoch has been read after the call
 *      began (one KV read shared by every call of the event-loop turn, see local-session-cache.ts);
 *   4. else the KV cache: a live entry answers (one KV read, no PostgreSQL), a tombstone refuses;
 *   5. on a miss, PostgreSQL, and the cache restored (SET NX, see session-cache.ts).
 * While the KV store cannot be reached (Redis down), steps 3-5 are replaced by a PostgreSQL read
 * per call: slower, never stale (PostgreSQL is the truth), and calls keep working (SECURITY.md,
 * "Failure modes"). When it answers again, revocations committed meanwhile may lack their
 * tombstones (the revoking instance retries them, but may have died): before the KV store is
 * trusted again, every revocation of the last access-token lifetime is read from PostgreSQL into
 * the local deny-list, once.
 */
import type { Clock } from "../clock.js";
import { CypherError, unauthenticated } from "../errors.js";
import type { Db } from "../storage/database.js";
import type { LocalSessionCache } from "./local-session-cache.js";
import { revocationsAfter } from "./revocation-log.js";
import type { Revocations } from "./revocation.js";
import type { SessionCache } from "./session-cache.js";
import { sessionState, type SessionRecord } from "./session-record.js";
import { findSession } from "./session-store.js";
import type { AccessClaims, SessionTokens } from "./session-tokens.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

export interface Authenticated {
  session: SessionRecord;
  claims: AccessClaims;
}

export class SessionAuthenticator {
  readonly #tokens: SessionTokens;
  readonly #cache: SessionCache;
  readonly #revocations: Revocations;
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #verified: VerifiedTokenCache<AccessClaims>;
  readonly #local: LocalSessionCache;
  /** The KV store failed and has not been trusted again since. */
  #outage = false;
  #recovery: Promise<void> | undefined;

  constructor(options: {
    tokens: SessionTokens;
    cache: SessionCache;
    revocations: Revocations;
    db: Db;
    clock: Clock;
    verified: VerifiedTokenCache<AccessClaims>;
    local: LocalSessionCache;
  }) {
    this.#tokens = options.tokens;
    this.#cache = options.cache;
    this.#revocations = options.revocations;
    this.#db = options.db;
    this.#clock = options.clock;
    this.#verified = options.verified;
    this.#local = options.local;
  }

  /** The live session of an access token; Unauthenticated TOKEN_EXPIRED / TOKEN_REVOKED / TOKEN_INVALID otherwise. */
  async authenticate(accessToken: string): Promise<Authenticated> {
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
      this.#outage = true;
      this.#local.distrust();
      session = await this.#fromDatabase(claims.sessionId);
    }

    // The cache entry may be older than the session's absolute end; the clock decides.
    if (sessionState(session, this.#clock.now()) === "expired") throw unauthenticated("TOKEN_EXPIRED");
    // Only a signing-key compromise could produce this; refuse rather than answer for another account.
    if (session.userId !== claims.userId) throw unauthenticated("TOKEN_INVALID");
    return { session, claims };
  }

  /** After a KV outage: deny what was revoked lately, whether or not its tombstones were written. */
  async #recover(): Promise<void> {
    try {
      const since = new Date(this.#clock.now().getTime() - this.#revocations.rememberMs);
      const ids: string[] = [];
      for (let after = 0n, more = true; more; ) {
        const page = await revocationsAfter(this.#db, { afterSeq: after, revokedSince: since });
        for (const event of page.events) ids.push(...event.sessionIds);
        more = page.more;
        after = page.events.at(-1)?.seq ?? after;
      }
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

/** The KV store could not be reached (the Redis store reports that as Unavailable). */
function isKvUnavailable(error: unknown): boolean {
  return error instanceof CypherError && error.code === "unavailable";
}
