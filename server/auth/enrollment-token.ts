/**
 * Enrollment tokens: the bearer secret that lets the person who just registered set up TOTP.
 * 32 random bytes in base64url (43 characters); only a SHA-256 is stored. The lookup goes through
 * a unique index on the hash (as with session tokens, comparing hashes of a high-entropy secret
 * leaks nothing useful through timing, so no constant-time scan of every row is needed).
 */
import { createHash, randomBytes } from "node:crypto";

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newEnrollmentToken(): { token: string; hash: Uint8Array } {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  return { token, hash: hashEnrollmentToken(token) };
}

export function isWellFormedEnrollmentToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

export function hashEnrollmentToken(token: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(token, "utf8").digest());
}
