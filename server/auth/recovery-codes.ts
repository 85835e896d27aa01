/**
 * Recovery codes: ten per account, shown once at enrollment, each usable once instead of a TOTP
 * code. Only an HMAC of each code is stored (keyed with a pepper derived from the server's TOTP
 * key), so a stolen database does not yield usable codes; candidates are compared in constant time.
 *
 * Format: 3 groups of 4 characters from a 32-letter alphabet without look-alikes (60 bits),
 * e.g. `7kqm-x2fa-9tbe`. Input is forgiving: case, spaces and dashes are ignored.
 */
import { createHmac, hkdfSync, randomInt, timingSafeEqual } from "node:crypto";
import type { Db } from "../storage/database.js";
import { markRecoveryCodeUsed, unusedRecoveryCodes } from "../storage/recovery-code-store.js";

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"; // no 0/o, 1/l/i
const GROUPS = 3;
const GROUP_LENGTH = 4;

export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    const groups: string[] = [];
    for (let g = 0; g < GROUPS; g++) {
      let group = "";
      for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET[randomInt(ALPHABET.length)];
      groups.push(group);
    }
    codes.add(groups.join("-"));
  }
  return [...codes];
}

/** Canonical form of user input, or null if it cannot be a recovery code. */
export function normalizeRecoveryCode(input: string): string | null {
  const compact = input.toLowerCase().replace(/[\s-]/g, "");
  if (compact.length !== GROUPS * GROUP_LENGTH) return null;
  for (const ch of compact) if (!ALPHABET.includes(ch)) return null;
  return compact;
}

/** The pepper for recovery-code HMACs, derived from the TOTP encryption key (one secret fewer to manage). */
export function recoveryCodePepper(totpEncryptionKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", totpEncryptionKey, new Uint8Array(0), "cypher recovery-code pepper v1", 32));
}

export function hashRecoveryCode(pepper: Uint8Array, code: string): Uint8Array {
  const canonical = normalizeRecoveryCode(code);
  if (canonical === null) throw new TypeError("not a recovery code");
  return new Uint8Array(createHmac("sha256", pepper).update(canonical).digest());
}

/**
 * Spends one of the user's unused recovery codes. Every unused hash is compared in constant time;
 * the match is then marked used with `WHERE used_at IS NULL`, so two concurrent uses of one code
 * cannot both succeed. Runs inside the caller's transaction when given one.
 */
export async function consumeRecoveryCode(db: Db, params: { userId: string; code: string; pepper: Uint8Array; at: Date }): Promise<boolean> {
  if (normalizeRecoveryCode(params.code) === null) return false;
  const candidate = Buffer.from(hashRecoveryCode(params.pepper, params.code));
  const unused = await unusedRecoveryCodes(db, params.userId);
  let matchId: string | null = null;
  for (const row of unused) {
    const stored = Buffer.from(row.codeHash);
    if (stored.length === candidate.length && timingSafeEqual(stored, candidate) && matchId === null) matchId = row.id;
  }
  if (matchId === null) return false;
  return markRecoveryCodeUsed(db, matchId, params.at);
}
