/**
 * PASERK encodings of Ed25519 keys for PASETO v4.public (k4.secret., k4.public.), generated and
 * parsed with Node's own crypto so key handling does not depend on a token library's key objects.
 */
import { generateKeyPairSync } from "node:crypto";

const SECRET_PREFIX = "k4.secret.";
const PUBLIC_PREFIX = "k4.public.";

export function generateEd25519Paserk(): { secret: string; public: string } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d!, "base64url");
  const pub = Buffer.from(jwk.x!, "base64url");
  return {
    secret: SECRET_PREFIX + Buffer.concat([seed, pub]).toString("base64url"),
    public: PUBLIC_PREFIX + pub.toString("base64url"),
  };
}

/** The 32-byte public key of a k4.secret (its last 32 bytes), or null if it is not one. */
export function publicKeyOfSecretPaserk(secret: string): string | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const raw = decodeBase64Url(secret.slice(SECRET_PREFIX.length));
  if (!raw || raw.length !== 64) return null;
  return PUBLIC_PREFIX + Buffer.from(raw.subarray(32)).toString("base64url");
}

export function isPublicPaserk(value: string): boolean {
  if (!value.startsWith(PUBLIC_PREFIX)) return false;
  const raw = decodeBase64Url(value.slice(PUBLIC_PREFIX.length));
  return raw !== null && raw.length === 32;
}

function decodeBase64Url(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  return Buffer.from(text, "base64url");
}
