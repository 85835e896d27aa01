/**
 * The port for signed tokens (implemented with PASETO v4.public in `paseto-token-service.ts`).
 * Each purpose has its own Ed25519 key and the purpose is bound into the signature, so a token of
 * one purpose is refused as any other. Every token carries `jti`, `iat` and `exp`, and its signing
 * key's PASERK id (`k4.pid.`) in the footer.
 */
import type { TokenPurpose } from "../keys/key-material.js";

export type TokenClaimValue = string | number | boolean;

export interface IssuedToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface VerifiedToken {
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
  /** The claims given to `issue`, as they were signed. */
  claims: Record<string, TokenClaimValue>;
}

export interface PublicKeyInfo {
  /** PASERK id of the key (`k4.pid.`). */
  kid: string;
  purpose: TokenPurpose;
  /** PASERK of the key (`k4.public.`). */
  paserk: string;
}

export interface TokenService {
  /**
   * Signs a token of `purpose` carrying `claims`, valid for `ttlSeconds` from the clock's now.
   * `jti` and `issuedAt` may be given to re-sign an identical token (Ed25519 is deterministic);
   * otherwise a fresh random jti is used.
   */
  issue(
    purpose: TokenPurpose,
    claims: Record<string, TokenClaimValue>,
    options: { ttlSeconds: number; jti?: string; issuedAt?: Date },
  ): Promise<IssuedToken>;
  /**
   * Verifies signature, purpose and expiry against the clock. Throws `unauthenticated("TOKEN_EXPIRED")`
   * for an expired token and `unauthenticated("TOKEN_INVALID")` for anything else wrong; never another error.
   */
  verify(purpose: TokenPurpose, token: string): Promise<VerifiedToken>;
  /** Every key that verifies tokens that may still be live, signing keys first. */
  publicKeys(): PublicKeyInfo[];
}
