/**
 * TokenService over PASETO v4.public: signed with the paseto library (4.x, Ed25519 through
 * WebCrypto), verified by v4-public-verify.ts on node:crypto (why: see there).
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
import { PublicProtocol } from "paseto";
import { ImportSecretKeyFactory, SignFactory, type SecretKey } from "paseto/v4/public";
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { unauthenticated } from "../errors.js";
import { TOKEN_PURPOSES, type KeyMaterial, type TokenPurpose } from "../keys/key-material.js";
import { publicKeyOfSecretPaserk } from "../keys/paserk.js";
import { publicKeyId } from "./paserk-id.js";
import type { IssuedToken, PublicKeyInfo, TokenClaimValue, TokenService, VerifiedToken } from "./token-service.js";
import { inProcessEd25519Verifier, type Ed25519Verifier } from "./ed25519-verifier.js";
import { checkClaims, footerSegmentOf, TokenRefused, verifiedClaimsOf, verifyingKeyOf, type VerifyingKey } from "./v4-public-verify.js";

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
  /**
   * Current and previous public keys by their footer segment, as written: a token we signed carries
   * exactly the base64url of `footerOf(kid)`, so an exact string lookup finds its key without
   * decoding or parsing the footer (which had been a measurable share of a cold verification).
   */
  byFooter: Map<string, VerifyingKey>;
  info: PublicKeyInfo[];
}

/**
 * `ed25519` checks signatures; the server passes its verification threads, and the default (libuv's
 * pool) suits tests and tools.
 */
export async function createPasetoTokenService(
  keys: KeyMaterial,
  clock: Clock,
  options: { ed25519?: Ed25519Verifier } = {},
): Promise<TokenService> {
  const ed25519 = options.ed25519 ?? inProcessEd25519Verifier();
  const v4 = new PublicProtocol(SignFactory, ImportSecretKeyFactory);

  const byPurpose = {} as Record<TokenPurpose, PurposeKeys>;
  for (const purpose of TOKEN_PURPOSES) {
    const set = keys.tokens[purpose];
    const signingPublic = publicKeyOfSecretPaserk(set.signingKey);
    if (signingPublic === null) throw new TypeError(`the ${purpose} signing key is not a k4.secret PASERK`);
    const kid = publicKeyId(signingPublic);
    const signingKey = await v4.ImportSecretKey(set.signingKey as `k4.secret.${string}`);
    const byFooter = new Map<string, VerifyingKey>();
    const info: PublicKeyInfo[] = [];
    for (const paserk of [signingPublic, ...set.previousPublicKeys]) {
      const id = publicKeyId(paserk);
      const verifier = verifyingKeyOf(paserk, footerOf(id));
      if (byFooter.has(verifier.footerSegment)) continue;
      byFooter.set(verifier.footerSegment, verifier);
      info.push({ kid: id, purpose, paserk });
    }
    byPurpose[purpose] = { signing: { kid, key: signingKey, footer: footerOf(kid) }, byFooter, info };
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
      const verifier = keySet.byFooter.get(footerSegmentOf(token));
      if (!verifier) throw unauthenticated("TOKEN_INVALID");
      let checked;
      try {
        const signed = await verifiedClaimsOf(token, verifier, ed25519);
        checked = checkClaims(signed, { audience: audienceOf(purpose), nowMs: clock.now().getTime() });
      } catch (error) {
        if (error instanceof TokenRefused) throw unauthenticated(error.reason === "expired" ? "TOKEN_EXPIRED" : "TOKEN_INVALID");
        throw error;
      }
      const claims: Record<string, TokenClaimValue> = {};
      for (const [name, value] of Object.entries(checked.rest)) {
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") claims[name] = value;
      }
      return { jti: checked.jti, issuedAt: checked.issuedAt, expiresAt: checked.expiresAt, claims } satisfies VerifiedToken;
    },

    publicKeys() {
      const signing = TOKEN_PURPOSES.map((p) => byPurpose[p].info[0]!);
      const previous = TOKEN_PURPOSES.flatMap((p) => byPurpose[p].info.slice(1));
      return [...signing, ...previous].map((k) => ({ ...k }));
    },
  };
}
