/**
 * PASETO v4.public verification for the tokens this server signs, with the Ed25519 check behind the
 * Ed25519Verifier port (the server's runs on threads of its own: ed25519-thread-verifier.ts).
 *
 * Why not the paseto library's `Verify` (it still signs, in paseto-token-service.ts): VerifySession
 * with a token not seen before is limited by the event-loop thread, and the library's Verify spends
 * several times more of that thread per token (WebCrypto dispatch, a pure-JS base64url decoder,
 * claim parsing) than this module, which decodes with Buffer (figures: docs/architecture.md).
 *
 * The steps are the specification's v4.public Verify (PASETO v4, "Verify"), narrowed to our format:
 *   1. the header is exactly `v4.public.` and the footer segment is exactly the one the verifying
 *      key's tokens carry (the caller picked the key by that segment, `footerSegmentOf`);
 *   2. the payload segment is canonical base64url (one byte string, one text) of more than 64 bytes:
 *      message ‖ 64-byte signature;
 *   3. Ed25519 verifies the signature over PAE("v4.public.", message, footer, "") (no implicit
 *      assertion: GetPublicKeys gives third parties nothing they could supply as one);
 *   4. only then is the message read, as strict UTF-8 JSON of an object, and its claims checked
 *      (`checkClaims`), so nothing unsigned is ever parsed.
 * tests/unit/paseto-token-service.test.ts checks it against the library's Verify on random and
 * mutated tokens, and tests/rpc/session-public-keys.test.ts against an independent verifier.
 */
import type { Ed25519Verifier } from "./ed25519-verifier.js";

const HEADER = "v4.public.";
const HEADER_BYTES = Buffer.from(HEADER);
const SIGNATURE_BYTES = 64;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** The only date-time form this server writes (paseto-token-service.ts `rfc3339`). */
const WHOLE_SECONDS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Why a token was refused: `expired` only for a genuine token past its `exp`. */
export class TokenRefused extends Error {
  constructor(readonly reason: "invalid" | "expired") {
    super(`token ${reason}`);
  }
}

/** A public key, and the footer its tokens carry. */
export interface VerifyingKey {
  /** Raw Ed25519 public key, 32 bytes. */
  publicKey: Buffer;
  footer: Buffer;
  /** `footer` as it appears in a token: base64url. */
  footerSegment: string;
}

/** The verifying key of a PASERK `k4.public.` (32 bytes, base64url) whose tokens carry `footer`. */
export function verifyingKeyOf(paserk: string, footer: Uint8Array): VerifyingKey {
  const publicKey = Buffer.from(paserk.slice("k4.public.".length), "base64url");
  if (!paserk.startsWith("k4.public.") || publicKey.length !== 32) throw new TypeError("not a k4.public PASERK");
  const bytes = Buffer.from(footer);
  return { publicKey, footer: bytes, footerSegment: bytes.toString("base64url") };
}

/** The footer segment of a token: what follows its last dot. */
export function footerSegmentOf(token: string): string {
  return token.slice(token.lastIndexOf(".") + 1);
}

/**
 * The signed claims of a v4.public `token` signed by `verifier`'s key under its footer; rejects with
 * `TokenRefused("invalid")` for anything else. Claims are not checked here (`checkClaims`).
 */
export async function verifiedClaimsOf(token: string, verifier: VerifyingKey, ed25519: Ed25519Verifier): Promise<Record<string, unknown>> {
  if (!token.startsWith(HEADER)) throw new TokenRefused("invalid");
  const footerDot = token.lastIndexOf(".");
  const segment = token.slice(HEADER.length, footerDot);
  // `footerDot` past the header, and no further dot: exactly header, payload and footer.
  if (footerDot <= HEADER.length || !BASE64URL.test(segment)) throw new TokenRefused("invalid");
  if (token.slice(footerDot + 1) !== verifier.footerSegment) throw new TokenRefused("invalid");
  const payload = Buffer.from(segment, "base64url");
  if (payload.length <= SIGNATURE_BYTES || payload.toString("base64url") !== segment) throw new TokenRefused("invalid");
  const message = payload.subarray(0, payload.length - SIGNATURE_BYTES);
  const signature = payload.subarray(payload.length - SIGNATURE_BYTES);

  if (!(await ed25519.verify(verifier.publicKey, preAuthEncode(HEADER_BYTES, message, verifier.footer), signature))) {
    throw new TokenRefused("invalid");
  }

  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(message));
  } catch {
    throw new TokenRefused("invalid");
  }
  if (claims === null || typeof claims !== "object" || Array.isArray(claims)) throw new TokenRefused("invalid");
  return claims as Record<string, unknown>;
}

/**
 * PASETO's PAE of the four v4.public pieces: LE64(4) ‖ for each piece LE64(length) ‖ piece, the
 * last piece (the implicit assertion) empty. Lengths fit in 32 bits: tokens are capped far below.
 */
function preAuthEncode(header: Buffer, message: Buffer, footer: Buffer): Buffer {
  const out = Buffer.alloc(8 * 5 + header.length + message.length + footer.length);
  let at = 0;
  const le64 = (n: number) => {
    out.writeUInt32LE(n, at);
    at += 8;
  };
  le64(4);
  for (const piece of [header, message, footer]) {
    le64(piece.length);
    at += piece.copy(out, at);
  }
  le64(0);
  return out;
}

export interface CheckedClaims {
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
  /** Every other claim, as signed. */
  rest: Record<string, unknown>;
}

/**
 * The registered claims of a verified token, checked as PASETO's claim rules and our format require:
 * `aud` is `audience`; `jti` is a string; `iat` and `exp` are present, as date-times in the form we
 * write; `iat`, and `nbf` when present, not after now; `expired` once the clock is past `exp`.
 */
export function checkClaims(claims: Record<string, unknown>, expected: { audience: string; nowMs: number }): CheckedClaims {
  const { aud, jti, iat, exp, nbf, ...rest } = claims;
  if (aud !== expected.audience || typeof jti !== "string") throw new TokenRefused("invalid");
  const issuedAtMs = dateTimeMs(iat);
  const expiresAtMs = dateTimeMs(exp);
  if (expected.nowMs < issuedAtMs) throw new TokenRefused("invalid");
  if (nbf !== undefined && expected.nowMs < dateTimeMs(nbf)) throw new TokenRefused("invalid");
  if (expected.nowMs > expiresAtMs) throw new TokenRefused("expired");
  return { jti, issuedAt: new Date(issuedAtMs), expiresAt: new Date(expiresAtMs), rest };
}

/** Milliseconds of a `YYYY-MM-DDTHH:MM:SSZ` claim that names a real instant (no 30 February). */
function dateTimeMs(value: unknown): number {
  if (typeof value !== "string" || !WHOLE_SECONDS_UTC.test(value)) throw new TokenRefused("invalid");
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== `${value.slice(0, -1)}.000Z`) throw new TokenRefused("invalid");
  return ms;
}
