/**
 * From an access token to a live session: VerifySession, and the Bearer calls. The hot path.
 *
 *   1. signature, expiry and purpose (no I/O);
 *   2. this instance's deny-list of revocations it has heard of (no I/O);
 *   3. the KV cache: a live entry answers (one KV read, no PostgreSQL), a tombstone refuses;
 *   4. on a miss, PostgreSQL, and the cache restored (SET NX, see session-cache.ts).
 */
import type { Clock } from "../clock.js";
import { unauthenticated } from "../errors.js";
import type { Db } from "../storage/database.js";
import type { Revocations } from "./revocation.js";
import type { SessionCache } from "./session-cache.js";
import { sessionState, type SessionRecord } from "./session-record.js";
import { findSession } from "./session-store.js";
import type { AccessClaims, SessionTokens } from "./session-tokens.js";

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

  constructor(options: { tokens: SessionTokens; cache: SessionCache; revocations: Revocations; db: Db; clock: Clock }) {
    this.#tokens = options.tokens;
    this.#cache = options.cache;
    this.#revocations = options.revocations;
    this.#db = options.db;
    this.#clock = options.clock;
  }

  /** The live session of an access token; Unauthenticated TOKEN_EXPIRED / TOKEN_REVOKED / TOKEN_INVALID otherwise. */
  async authenticate(accessToken: string): Promise<Authenticated> {
    const claims = await this.#tokens.verifyAccess(accessToken);
    if (this.#revocations.isDenied(claims.sessionId)) throw unauthenticated("TOKEN_REVOKED");

    const cached = await this.#cache.get(claims.sessionId);
    if (cached.kind === "revoked") throw unauthenticated("TOKEN_REVOKED");
    const session = cached.kind === "live" ? cached.session : await this.#load(claims.sessionId);

    // The cache entry may be older than the session's absolute end; the clock decides.
    if (sessionState(session, this.#clock.now()) === "expired") throw unauthenticated("TOKEN_EXPIRED");
    // Only a signing-key compromise could produce this; refuse rather than answer for another account.
    if (session.userId !== claims.userId) throw unauthenticated("TOKEN_INVALID");
    return { session, claims };
  }

  async #load(sessionId: string): Promise<SessionRecord> {
    const session = await findSession(this.#db, sessionId);
    // A token we signed whose session is gone (the account was deleted): as good as revoked.
    if (session === null) throw unauthenticated("TOKEN_REVOKED");
    const state = sessionState(session, this.#clock.now());
    if (state === "revoked") {
      await this.#cache.markRevoked([sessionId]);
      throw unauthenticated("TOKEN_REVOKED");
    }
    if (state === "live") await this.#cache.fill(session);
    return session;
  }
}
