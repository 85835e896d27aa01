/**
 * The token pair of a session, and the claims each token carries:
 *  - access  (15 min): `sub` user id, `sid` session id, `username`, plus jti/iat/exp;
 *  - refresh (7 days): `sid` session id, `gen` generation (0 for the first, +1 per rotation).
 * Neither outlives the session's absolute lifetime.
 *
 * A pair is a pure function of the session and its refresh token's (jti, generation, issued_at):
 * the access token's jti is derived from the refresh jti. So the pair a rotation produced can be
 * re-signed byte for byte from the stored refresh_tokens row (the reuse grace), and no token
 * plaintext is ever stored.
 */
import { createHash } from "node:crypto";
import type { Config } from "../config.js";
import { unauthenticated } from "../errors.js";
import type { IssuedToken, TokenService, VerifiedToken } from "../tokens/token-service.js";
import { isUuid } from "./session-record.js";

export interface TokenPairTokens {
  access: IssuedToken;
  refresh: IssuedToken;
}

export interface PairSubject {
  sessionId: string;
  userId: string;
  username: string;
  sessionExpiresAt: Date;
}

export interface AccessClaims {
  userId: string;
  sessionId: string;
  username: string;
}

export interface RefreshClaims {
  sessionId: string;
  generation: number;
}

/** Times in tokens are whole seconds; rows that tokens are re-signed from use the same times. */
export function wholeSeconds(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 1000) * 1000);
}

/** The access token's jti for the pair whose refresh token has `refreshJti` (UUID-shaped). */
export function accessJtiFor(refreshJti: string): string {
  const h = createHash("sha256").update(`cypher access jti v1:${refreshJti}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8: custom
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** SHA-256 of a token: the only form in which a refresh token is stored. */
export function tokenHash(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export class SessionTokens {
  readonly #tokens: TokenService;
  readonly #config: Config["tokens"];

  constructor(tokens: TokenService, config: Config["tokens"]) {
    this.#tokens = tokens;
    this.#config = config;
  }

  /**
   * Signs the pair for refresh token (jti, generation) issued at `issuedAt`. Throws TOKEN_EXPIRED
   * when the session has less than a second left.
   */
  async issuePair(subject: PairSubject, refresh: { jti: string; generation: number; issuedAt: Date }): Promise<TokenPairTokens> {
    const issuedAt = wholeSeconds(refresh.issuedAt);
    const remainingSeconds = Math.floor((subject.sessionExpiresAt.getTime() - issuedAt.getTime()) / 1000);
    if (remainingSeconds < 1) throw unauthenticated("TOKEN_EXPIRED");
    const [access, refreshToken] = await Promise.all([
      this.#tokens.issue(
        "access",
        { sub: subject.userId, sid: subject.sessionId, username: subject.username },
        { ttlSeconds: Math.min(this.#config.accessTtlSeconds, remainingSeconds), jti: accessJtiFor(refresh.jti), issuedAt },
      ),
      this.#tokens.issue(
        "refresh",
        { sid: subject.sessionId, gen: refresh.generation },
        { ttlSeconds: Math.min(this.#config.refreshTtlSeconds, remainingSeconds), jti: refresh.jti, issuedAt },
      ),
    ]);
    return { access, refresh: refreshToken };
  }

  /** Verifies an access token and reads its claims; TOKEN_EXPIRED / TOKEN_INVALID otherwise. */
  async verifyAccess(token: string): Promise<AccessClaims & { token: VerifiedToken }> {
    const verified = await this.#tokens.verify("access", token);
    const { sub, sid, username } = verified.claims;
    if (!isUuid(sub) || !isUuid(sid) || typeof username !== "string") throw unauthenticated("TOKEN_INVALID");
    return { userId: sub, sessionId: sid, username, token: verified };
  }

  /** Verifies a refresh token and reads its claims; TOKEN_EXPIRED / TOKEN_INVALID otherwise. */
  async verifyRefresh(token: string): Promise<RefreshClaims & { token: VerifiedToken }> {
    const verified = await this.#tokens.verify("refresh", token);
    const { sid, gen } = verified.claims;
    if (!isUuid(sid) || !isUuid(verified.jti) || typeof gen !== "number" || !Number.isSafeInteger(gen) || gen < 0) {
      throw unauthenticated("TOKEN_INVALID");
    }
    return { sessionId: sid, generation: gen, token: verified };
  }
}
