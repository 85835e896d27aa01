/**
 * The operator API's keys (ADMIN_API_KEYS, comma-separated, or ADMIN_API_KEYS_FILE, one per line).
 *
 * Only each key's SHA-256 is kept once configuration is read: the keys themselves are never held,
 * logged or put in an error message. A presented key is hashed the same way and compared with
 * every configured digest in constant time (admin-authenticator.ts): hashing first makes every
 * comparison 32 bytes against 32 bytes, so neither the keys' lengths nor how much of a guess
 * matched can show in the timing.
 *
 * A key is named in the audit log and the logs by its fingerprint: the first 8 hex digits of its
 * SHA-256, enough to tell an operator's keys apart and useless for recovering one.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/** Shorter keys are a configuration error: a key must be out of reach of guessing. */
export const ADMIN_KEY_MIN_CHARS = 32;
/** Printable ASCII without spaces or commas: fits an HTTP header, and commas separate keys. */
const KEY_PATTERN = /^[\x21-\x2b\x2d-\x7e]+$/;

export interface AdminKey {
  /** SHA-256 of the key. */
  digest: Buffer;
  /** First 8 hex digits of the digest: how the key is named in the audit log. */
  fingerprint: string;
}

export function adminKeyDigest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

export function adminKeyFingerprint(digest: Uint8Array): string {
  return Buffer.from(digest).subarray(0, 4).toString("hex");
}

/**
 * The configured keys, from ADMIN_API_KEYS or ADMIN_API_KEYS_FILE (not both). Problems name the
 * variable, the file and the entry's position, never the entry itself.
 */
export function readAdminKeys(
  env: Record<string, string | undefined>,
  readFile: (file: string) => string = (file) => readFileSync(file, "utf8"),
): { keys: AdminKey[]; problems: string[] } {
  const problems: string[] = [];
  const inline = env.ADMIN_API_KEYS?.trim() ?? "";
  const file = env.ADMIN_API_KEYS_FILE?.trim() ?? "";
  if (inline !== "" && file !== "") return { keys: [], problems: ["set ADMIN_API_KEYS or ADMIN_API_KEYS_FILE, not both"] };

  let entries: string[];
  let source: string;
  if (inline !== "") {
    entries = inline.split(",").map((entry) => entry.trim());
    source = "ADMIN_API_KEYS";
  } else if (file !== "") {
    source = `ADMIN_API_KEYS_FILE (${file})`;
    let text: string;
    try {
      text = readFile(file);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { keys: [], problems: [`${source} cannot be read${typeof code === "string" ? ` (${code})` : ""}`] };
    }
    // One key per line; blank lines and lines starting with # are ignored.
    entries = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    if (entries.length === 0) problems.push(`${source} holds no key`);
  } else {
    return { keys: [], problems: [] };
  }

  const keys: AdminKey[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    const which = `${source} entry ${index + 1}`;
    if (entry === "") problems.push(`${which} is empty`);
    else if (!KEY_PATTERN.test(entry)) problems.push(`${which} must be printable ASCII without spaces or commas`);
    else if (entry.length < ADMIN_KEY_MIN_CHARS) problems.push(`${which} is shorter than ${ADMIN_KEY_MIN_CHARS} characters`);
    else {
      const digest = adminKeyDigest(entry);
      const hex = digest.toString("hex");
      if (seen.has(hex)) return;
      seen.add(hex);
      keys.push({ digest, fingerprint: adminKeyFingerprint(digest) });
    }
  });
  return { keys: problems.length > 0 ? [] : keys, problems };
}
