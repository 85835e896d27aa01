/**
 * Who is calling AdminService: `authorization: Bearer <admin key>` checked against the configured
 * keys (admin-keys.ts). The presented key is hashed and compared with EVERY configured digest with
 * timingSafeEqual, without stopping at a match, so neither which key matched nor how long the keys
 * are shows in the time a call takes. No key configured: every call is refused.
 *
 * Every failure is the same Unauthenticated (reason ADMIN_KEY_INVALID, the one generic message):
 * no header, a malformed one, an unknown key, no keys configured.
 */
import { timingSafeEqual } from "node:crypto";
import { unauthenticated } from "../errors.js";
import { adminKeyDigest, type AdminKey } from "./admin-keys.js";

/** Longer headers are refused before hashing (no key is anywhere near this long). */
const MAX_HEADER_CHARS = 1024;

export interface Operator {
  /** Fingerprint of the key the call carried: what the audit log records. */
  fingerprint: string;
}

export class AdminAuthenticator {
  readonly #keys: readonly AdminKey[];

  constructor(keys: readonly AdminKey[]) {
    this.#keys = keys;
  }

  get configured(): boolean {
    return this.#keys.length > 0;
  }

  authenticate(headers: Headers): Operator {
    const value = headers.get("authorization");
    const match = value === null || value.length > MAX_HEADER_CHARS ? null : /^Bearer +(\S+) *$/i.exec(value);
    if (match === null || this.#keys.length === 0) throw unauthenticated("ADMIN_KEY_INVALID");
    const presented = adminKeyDigest(match[1]!);
    let found: AdminKey | undefined;
    for (const key of this.#keys) {
      // No early exit: every configured key is compared, whichever matches.
      if (timingSafeEqual(presented, key.digest) && found === undefined) found = key;
    }
    if (found === undefined) throw unauthenticated("ADMIN_KEY_INVALID");
    return { fingerprint: found.fingerprint };
  }
}
