/**
 * Access tokens minted in bulk for the cold-token phase, with node:crypto's Ed25519 directly
 * (tens of thousands per second, where the paseto library signs ~3,000): the same PASETO v4.public
 * format the server's token service writes (server/tokens/paseto-token-service.ts):
 *
 *   token  = "v4.public." base64url(payload ‖ signature) "." base64url(footer)
 *   signed = PAE("v4.public.", payload, footer, "")      (PASETO's pre-authentication encoding)
 *   payload: {"sid","sub","username","aud":"cypher:access","jti","iat","exp"}; footer: {"kid": k4.pid}
 *
 * The benchmark checks a minted token against the server before using any (a format drift fails the
 * run instead of measuring refusals).
 */
import { createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import { publicKeyId } from "../server/tokens/paserk-id.js";

const HEADER = Buffer.from("v4.public.");

export interface SessionClaims {
  sessionId: string;
  userId: string;
  username: string;
}

/** PASETO's PAE: LE64(count) ‖ for each piece LE64(length) ‖ piece. */
export function pae(...pieces: Buffer[]): Buffer {
  const parts: Buffer[] = [le64(pieces.length)];
  for (const piece of pieces) parts.push(le64(piece.length), piece);
  return Buffer.concat(parts);
}

function le64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n) & 0x7fffffffffffffffn);
  return b;
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class AccessTokenMinter {
  readonly #key: KeyObject;
  readonly publicKey: KeyObject;
  readonly #footer: Buffer;

  /** `signingKey`: the access signing key as PASERK (k4.secret.…). */
  constructor(signingKey: string) {
    const raw = Buffer.from(signingKey.slice("k4.secret.".length), "base64url");
    const jwk = { kty: "OKP", crv: "Ed25519", d: raw.subarray(0, 32).toString("base64url"), x: raw.subarray(32).toString("base64url") };
    this.#key = createPrivateKey({ key: jwk, format: "jwk" });
    this.publicKey = createPublicKey(this.#key);
    this.#footer = Buffer.from(JSON.stringify({ kid: publicKeyId(`k4.public.${jwk.x}`) }));
  }

  mint(claims: SessionClaims, ttlSeconds = 900, nowMs = Date.now()): string {
    const payload = Buffer.from(
      JSON.stringify({
        sid: claims.sessionId,
        sub: claims.userId,
        username: claims.username,
        aud: "cypher:access",
        jti: randomUUID(),
        iat: rfc3339(nowMs),
        exp: rfc3339(nowMs + ttlSeconds * 1000),
      }),
    );
    const signature = sign(null, pae(HEADER, payload, this.#footer, Buffer.alloc(0)), this.#key);
    return `v4.public.${Buffer.concat([payload, signature]).toString("base64url")}.${this.#footer.toString("base64url")}`;
  }

  /** What one signature check of `token` costs natively: the message and signature it verifies. */
  signedParts(token: string): { message: Buffer; signature: Buffer } {
    const [, , body, footer] = token.split(".");
    const raw = Buffer.from(body!, "base64url");
    const payload = raw.subarray(0, raw.length - 64);
    return { message: pae(HEADER, payload, Buffer.from(footer!, "base64url"), Buffer.alloc(0)), signature: raw.subarray(raw.length - 64) };
  }
}

/**
 * Native Ed25519 verifications per second on one core (node:crypto, synchronous, this thread),
 * of a message the size of an access token's: the reference for the cold-token goal.
 */
export function nativeVerifyRate(minter: AccessTokenMinter, token: string, durationMs: number): number {
  const { message, signature } = minter.signedParts(token);
  if (!verify(null, message, minter.publicKey, signature)) throw new Error("a minted token does not verify");
  let count = 0;
  const started = performance.now();
  let elapsed = 0;
  while ((elapsed = performance.now() - started) < durationMs) {
    for (let i = 0; i < 100; i++) verify(null, message, minter.publicKey, signature);
    count += 100;
  }
  return (count / elapsed) * 1000;
}
