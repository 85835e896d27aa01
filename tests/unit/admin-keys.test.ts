/**
 * ADMIN_API_KEYS / ADMIN_API_KEYS_FILE as configuration reads them, and the admin key check: every
 * problem reported without the key in it, digests only kept, any configured key accepted, anything
 * else (or everything, with no key configured) refused with one generic Unauthenticated.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdminAuthenticator } from "../../server/admin/admin-authenticator.js";
import { readAdminKeys } from "../../server/admin/admin-keys.js";
import { ConfigError, loadConfig } from "../../server/config.js";
import { CypherError } from "../../server/errors.js";

const KEY_A = "a".repeat(20) + "-0123456789AB"; // 33 characters
const KEY_B = "B_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHORT = "too-short-but-secret-1234567890"; // 31 characters

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe("admin keys in the configuration", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-admin-keys-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has no keys by default", () => {
    expect(loadConfig({}).adminKeys).toEqual([]);
  });

  it("reads comma-separated keys and keeps only their SHA-256 and fingerprint", () => {
    const config = loadConfig({ ADMIN_API_KEYS: ` ${KEY_A} , ${KEY_B},${KEY_A}` });
    const digest = createHash("sha256").update(KEY_A).digest();
    expect(config.adminKeys).toHaveLength(2);
    expect(config.adminKeys[0]).toEqual({ digest, fingerprint: digest.toString("hex").slice(0, 8) });
    expect(JSON.stringify(config)).not.toContain(KEY_A);
  });

  it("reads a file with one key per line, skipping blank lines and comments", () => {
    const file = path.join(dir, "keys");
    writeFileSync(file, `# operators\n${KEY_A}\n\n  ${KEY_B}  \r\n`);
    expect(loadConfig({ ADMIN_API_KEYS_FILE: file }).adminKeys.map((k) => k.fingerprint)).toEqual(
      [KEY_A, KEY_B].map((k) => createHash("sha256").update(k).digest("hex").slice(0, 8)),
    );
  });

  it("reports each bad key by position, never the key itself", () => {
    const problems = problemsOf({ ADMIN_API_KEYS: `${KEY_A},${SHORT},,has space in it and is long enough 12345` });
    expect(problems).toEqual([
      "ADMIN_API_KEYS entry 2 is shorter than 32 characters",
      "ADMIN_API_KEYS entry 3 is empty",
      "ADMIN_API_KEYS entry 4 must be printable ASCII without spaces or commas",
    ]);
    expect(problems.join("\n")).not.toContain(SHORT);
  });

  it("refuses both variables at once, an unreadable file and a file without keys", () => {
    const empty = path.join(dir, "empty");
    writeFileSync(empty, "# nothing yet\n\n");
    const missing = path.join(dir, "missing");
    expect(problemsOf({ ADMIN_API_KEYS: KEY_A, ADMIN_API_KEYS_FILE: empty })).toEqual(["set ADMIN_API_KEYS or ADMIN_API_KEYS_FILE, not both"]);
    expect(problemsOf({ ADMIN_API_KEYS_FILE: missing })).toEqual([`ADMIN_API_KEYS_FILE (${missing}) cannot be read (ENOENT)`]);
    expect(problemsOf({ ADMIN_API_KEYS_FILE: empty })).toEqual([`ADMIN_API_KEYS_FILE (${empty}) holds no key`]);
    const bad = path.join(dir, "bad");
    writeFileSync(bad, `${KEY_A}\n${SHORT}\n`);
    const problems = problemsOf({ ADMIN_API_KEYS_FILE: bad });
    expect(problems).toEqual([`ADMIN_API_KEYS_FILE (${bad}) entry 2 is shorter than 32 characters`]);
  });
});

describe("AdminAuthenticator", () => {
  const auth = new AdminAuthenticator(readAdminKeys({ ADMIN_API_KEYS: `${KEY_A},${KEY_B}` }).keys);
  const header = (value: string) => new Headers({ authorization: value });
  const refused = (headers: Headers, authenticator = auth) => {
    try {
      authenticator.authenticate(headers);
    } catch (error) {
      return error instanceof CypherError && error.code === "unauthenticated" && error.details.reason === "ADMIN_KEY_INVALID" && error.message === "authentication failed";
    }
    return false;
  };

  it("accepts each configured key and names it by its fingerprint", () => {
    for (const key of [KEY_A, KEY_B]) {
      expect(auth.authenticate(header(`Bearer ${key}`))).toEqual({ fingerprint: createHash("sha256").update(key).digest("hex").slice(0, 8) });
    }
    expect(auth.authenticate(header(`bearer  ${KEY_A}`)).fingerprint).toHaveLength(8);
  });

  it("refuses no header, other schemes, other keys, prefixes and extensions of a key, with one generic error", () => {
    expect(refused(new Headers())).toBe(true);
    for (const value of [`Basic ${KEY_A}`, `Bearer`, `Bearer ${KEY_A.slice(0, -1)}`, `Bearer ${KEY_A}x`, `Bearer ${KEY_A} ${KEY_B}`, `Bearer ${"x".repeat(5000)}`]) {
      expect(refused(header(value)), value).toBe(true);
    }
  });

  it("refuses everything when no key is configured", () => {
    const none = new AdminAuthenticator([]);
    expect(none.configured).toBe(false);
    expect(refused(header(`Bearer ${KEY_A}`), none)).toBe(true);
  });
});
