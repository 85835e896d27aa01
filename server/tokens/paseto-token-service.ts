/**
 * TokenService over PASETO v4.public (paseto 4.x, Ed25519 through WebCrypto).
 *
 * Wire format, so an independent verifier holding only GetPublicKeys output can check a token:
 *  - footer: the JSON `{"kid":"k4.pid.…"}` naming the signing key (PASERK id, see paserk-id.ts);
 *  - payload claims: the caller's claims, then `aud` = `cypher:<purpose>`, `jti`, `iat`, `exp`
 *    (RFC 3339, whole seconds).
 * The purpose is bound twice: each purpose has its own key (a token is only checked against the
 * keys of the purpose asked for) and the signed `aud` claim names it. An audience rather than an
 * implicit assertion, because GetPublicKeys carries no assertion a third party could supply.
 *
 * Claims are serialized in a fixed order (caller claims sorted by name, then the registered ones),
 * and Ed25519 is deterministic, so `issue` with the same jti, issuedAt, ttl and claims yields the
 * byte-identical token (RefreshSession's reuse grace depends on it).
 */
import { ClaimValidationError, PublicProtocol } from "paseto";
import { ImportPublicKeyFactory, ImportSecretKeyFactory, SignFactory, VerifyFactory, type PublicKey, type SecretKey } from "paseto/v4/public";
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { unauthenticated } from "../errors.js";
import { TOKEN_PURPOSES, type KeyMaterial, type TokenPurpose } from "../keys/key-material.js";
import { publicKeyOfSecretPaserk } from "../keys/paserk.js";
import { publicKeyId } from "./paserk-id.js";
import type { IssuedToken, PublicKeyInfo, TokenClaimValue, TokenService, VerifiedToken } from "./token-service.js";

/** Claims the service sets itself; a caller may not supply them. */
const RESERVED_CLAIMS = new Set(["aud", "jti", "iat", "exp", "nbf"]);
/** Far above any token this server signs (a few hundred bytes); refuses huge inputs before parsing. */
const MAX_TOKEN_CHARS = 4096;

/** The audience claim that binds a token to its purpose. */
export function audienceOf(purpose: TokenPurpose): string {
  return `cypher:${purpose}`;
}

/** The footer bytes of a token signed by the key with this id. */
function footerOf(kid: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ kid }));
}

/** RFC 3339 without fractional seconds, as paseto writes `iat`. */
function rfc3339(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function wholeSeconds(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 1000) * 1000);
}

interface PurposeKeys {
  signing: { kid: string; key: SecretKey; footer: Uint8Array };
  /** Current and previous public keys by their footer segment (base64url of the footer bytes). */
  byFooter: Map<string, { key: PublicKey; footer: Uint8Array }>;
  info: PublicKeyInfo[];
}

export async function createPasetoTokenService(keys: KeyMaterial, clock: Clock): Promise<TokenService> {
  const v4 = new PublicProtocol(SignFactory, VerifyFactory, ImportSecretKeyFactory, ImportPublicKeyFactory);

  const byPurpose = {} as Record<TokenPurpose, PurposeKeys>;
  for (const purpose of TOKEN_PURPOSES) {
    const set = keys.tokens[purpose];
    const signingPublic = publicKeyOfSecretPaserk(set.signingKey);
    if (signingPublic === null) throw new TypeError(`the ${purpose} signing key is not a k4.secret PASERK`);
    const kid = publicKeyId(signingPublic);
    const signingKey = await v4.ImportSecretKey(set.signingKey as `k4.secret.${string}`);
    const byFooter = new Map<string, { key: PublicKey; footer: Uint8Array }>();
    const info: PublicKeyInfo[] = [];
    for (const paserk of [signingPublic, ...set.previousPublicKeys]) {
      const id = publicKeyId(paserk);
      const footer = footerOf(id);
      const segment = Buffer.from(footer).toString("base64url");
      if (byFooter.has(segment)) continue;
      byFooter.set(segment, { key: await v4.ImportPublicKey(paserk as `k4.public.${string}`), footer });
      info.push({ kid: id, purpose, paserk });
    }
    byPurpose[purpose] = { signing: { kid, key: signingKey, footer: footerOf(kid) }, byFooter, info };
  }

  /**
   * The verifying key a token names, found by its footer segment as written: a token we signed
   * carries exactly the base64url of `footerOf(kid)`, and paseto would refuse any other footer bytes
   * for that key anyway, so an exact string match replaces decoding and parsing the footer on every
   * cold verification (a measurable share of it).
   */
  function verifierOf(keySet: PurposeKeys, token: string): { key: PublicKey; footer: Uint8Array } | undefined {
    return keySet.byFooter.get(token.slice(token.lastIndexOf(".") + 1));
  }

  return {
    async issue(purpose, claims, options) {
      const keySet = byPurpose[purpose];
      if (!keySet) throw new TypeError(`unknown token purpose ${String(purpose)}`);
      if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
        throw new TypeError("ttlSeconds must be a positive whole number of seconds");
      }
      const payload: Record<string, TokenClaimValue> = {};
      for (const name of Object.keys(claims).sort()) {
        if (RESERVED_CLAIMS.has(name)) throw new TypeError(`claim ${name} is set by the token service`);
        payload[name] = claims[name]!;
      }
      const jti = options.jti ?? randomUUID();
      const issuedAt = wholeSeconds(options.issuedAt ?? clock.now());
      const expiresAt = new Date(issuedAt.getTime() + options.ttlSeconds * 1000);
      Object.assign(payload, { aud: audienceOf(purpose), jti, iat: rfc3339(issuedAt), exp: rfc3339(expiresAt) });
      const token = await v4.Sign(keySet.signing.key, payload, {
        footer: keySet.signing.footer,
        addIssuedAt: false,
        now: issuedAt,
      });
      return { token, jti, issuedAt, expiresAt } satisfies IssuedToken;
    },

    async verify(purpose, token) {
      const keySet = byPurpose[purpose];
      if (!keySet || typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_CHARS) {
        throw unauthenticated("TOKEN_INVALID");
      }
      const verifier = verifierOf(keySet, token);
      if (!verifier) throw unauthenticated("TOKEN_INVALID");
      let verified: Record<string, unknown>;
      try {
        const result = await v4.Verify(verifier.key, token, {
          now: clock.now(),
          footer: verifier.footer,
          audience: audienceOf(purpose),
          requiredClaims: ["jti", "iat", "exp"],
        });
        verified = result.claims;
      } catch (error) {
        if (error instanceof ClaimValidationError && error.claim === "exp") throw unauthenticated("TOKEN_EXPIRED");
        throw unauthenticated("TOKEN_INVALID");
      }
      const { jti, iat, exp, aud: _aud, nbf: _nbf, ...rest } = verified;
      const issuedAt = new Date(String(iat));
      const expiresAt = new Date(String(exp));
      if (typeof jti !== "string" || Number.isNaN(issuedAt.getTime()) || Number.isNaN(expiresAt.getTime())) {
        throw unauthenticated("TOKEN_INVALID");
      }
      const claims: Record<string, TokenClaimValue> = {};
      for (const [name, value] of Object.entries(rest)) {
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") claims[name] = value;
      }
      return { jti, issuedAt, expiresAt, claims } satisfies VerifiedToken;
    },

    publicKeys() {
      const signing = TOKEN_PURPOSES.map((p) => byPurpose[p].info[0]!);
      const previous = TOKEN_PURPOSES.flatMap((p) => byPurpose[p].info.slice(1));
      return [...signing, ...previous].map((k) => ({ ...k }));
    },
  };
}
