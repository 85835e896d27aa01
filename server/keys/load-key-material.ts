/**
 * Where the server's secrets come from, in order:
 *  1. the environment (each variable, or NAME_FILE naming a file that holds it) — all or none;
 *  2. otherwise, outside production, `DATA_DIR/keys.json` (mode 0600), generated on first start.
 * In production (`NODE_ENV=production`) the server refuses to start without (1).
 *
 * The OPRF seed is special: every OPAQUE record depends on it. A fresh set is generated only when
 * the database holds no account, so a lost key file never silently breaks every login.
 */
import { readFileSync, writeFileSync, existsSync, statSync, chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { getNativeOpaqueConfig } from "../auth/opaque/native-opaque-server.mjs";
import { type KeyMaterial, TOKEN_PURPOSES, type TokenKeySet, type TokenPurpose } from "./key-material.js";
import { generateEd25519Paserk, isPublicPaserk, publicKeyOfSecretPaserk } from "./paserk.js";
import { randomBytes } from "node:crypto";

/** The environment variables that carry key material; `npm run keys` prints a fresh set. */
export const KEY_VARIABLES = {
  oprfSeed: "OPAQUE_OPRF_SEED",
  akePrivateKey: "OPAQUE_AKE_PRIVATE_KEY",
  totpEncryptionKey: "TOTP_ENCRYPTION_KEY",
  login: "LOGIN_TOKEN_KEYS",
  access: "ACCESS_TOKEN_KEYS",
  refresh: "REFRESH_TOKEN_KEYS",
} as const;

type KeyVariable = (typeof KEY_VARIABLES)[keyof typeof KEY_VARIABLES];
type KeyValues = Record<KeyVariable, string>;

export class KeyMaterialError extends Error {
  override readonly name = "KeyMaterialError";
  constructor(readonly problems: string[]) {
    super(`invalid key material:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export type KeySource = "environment" | "file" | "generated";

export async function loadKeyMaterial(options: {
  env: Record<string, string | undefined>;
  dataDir: string;
  production: boolean;
  /** Whether any account exists (then a new OPRF seed would break them all). */
  hasAccounts: () => Promise<boolean>;
}): Promise<{ keys: KeyMaterial; source: KeySource; file?: string }> {
  const fromEnv = readEnvironment(options.env);
  if (fromEnv.present.length > 0) {
    if (fromEnv.missing.length > 0) {
      throw new KeyMaterialError(fromEnv.missing.map((name) => `${name} is not set (key material comes from the environment all together or not at all)`));
    }
    return { keys: parseKeyValues(fromEnv.values as KeyValues), source: "environment" };
  }
  if (options.production) {
    throw new KeyMaterialError([
      `NODE_ENV=production requires key material in the environment: ${Object.values(KEY_VARIABLES).join(", ")} (or NAME_FILE); run \`npm run keys\` to make a set`,
    ]);
  }

  const file = path.join(options.dataDir, "keys.json");
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) chmodSync(file, 0o600);
    let values: unknown;
    try {
      values = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      throw new KeyMaterialError([`${file} is not valid JSON`]);
    }
    return { keys: parseKeyValues(values as KeyValues, file), source: "file", file };
  }

  if (await options.hasAccounts()) {
    throw new KeyMaterialError([
      `no key material found (${file} is missing) but the database holds accounts: their OPAQUE records need the original OPRF seed. Restore the key file or set the key variables; a new seed would lock every user out`,
    ]);
  }
  const values = await generateKeyValues();
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // "wx": never overwrite a key file another process wrote in the meantime.
  writeFileSync(file, JSON.stringify(values, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  return { keys: parseKeyValues(values, file), source: "generated", file };
}

/** A fresh, complete set of key material as variable → value. */
export async function generateKeyValues(): Promise<KeyValues> {
  const cfg = getNativeOpaqueConfig();
  const ake = await cfg.ake.generateAuthKeyPair();
  return {
    [KEY_VARIABLES.oprfSeed]: Buffer.from(randomBytes(cfg.hash.Nh)).toString("base64"),
    [KEY_VARIABLES.akePrivateKey]: Buffer.from(ake.private_key).toString("base64"),
    [KEY_VARIABLES.totpEncryptionKey]: randomBytes(32).toString("base64"),
    [KEY_VARIABLES.login]: generateEd25519Paserk().secret,
    [KEY_VARIABLES.access]: generateEd25519Paserk().secret,
    [KEY_VARIABLES.refresh]: generateEd25519Paserk().secret,
  } as KeyValues;
}

/** A fresh KeyMaterial (for tests and first start). */
export async function generateKeyMaterial(): Promise<KeyMaterial> {
  return parseKeyValues(await generateKeyValues());
}

function readEnvironment(env: Record<string, string | undefined>) {
  const values: Partial<KeyValues> = {};
  const present: string[] = [];
  const missing: string[] = [];
  for (const name of Object.values(KEY_VARIABLES)) {
    let value = env[name]?.trim();
    const fileName = env[`${name}_FILE`]?.trim();
    if (!value && fileName) {
      try {
        value = readFileSync(fileName, "utf8").trim();
      } catch {
        throw new KeyMaterialError([`${name}_FILE=${fileName} cannot be read`]);
      }
    }
    if (value) {
      values[name] = value;
      present.push(name);
    } else {
      missing.push(name);
    }
  }
  return { values, present, missing };
}

export function parseKeyValues(values: KeyValues, origin = "the environment"): KeyMaterial {
  const problems: string[] = [];
  const cfg = getNativeOpaqueConfig();

  const bytes = (name: KeyVariable, length: number): Uint8Array => {
    const raw = typeof values?.[name] === "string" ? values[name] : "";
    const decoded = /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) ? Buffer.from(raw, raw.includes("-") || raw.includes("_") ? "base64url" : "base64") : Buffer.alloc(0);
    if (decoded.length !== length) {
      problems.push(`${name} (from ${origin}) must be ${length} bytes in base64`);
      return new Uint8Array(length);
    }
    return new Uint8Array(decoded);
  };

  const oprfSeed = bytes(KEY_VARIABLES.oprfSeed, cfg.hash.Nh);
  const akePrivateKey = bytes(KEY_VARIABLES.akePrivateKey, cfg.ake.Nsk);
  const totpEncryptionKey = bytes(KEY_VARIABLES.totpEncryptionKey, 32);
  let akePublicKey = new Uint8Array(cfg.ake.Npk);
  if (problems.length === 0) {
    try {
      akePublicKey = Uint8Array.from(cfg.ake.recoverPublicKey(akePrivateKey).public_key);
    } catch {
      problems.push(`${KEY_VARIABLES.akePrivateKey} (from ${origin}) is not a valid P-256 private key`);
    }
  }

  const tokens = {} as Record<TokenPurpose, TokenKeySet>;
  for (const purpose of TOKEN_PURPOSES) {
    const name = KEY_VARIABLES[purpose];
    const entries = (typeof values?.[name] === "string" ? values[name] : "").split(",").map((s) => s.trim()).filter(Boolean);
    const [signingKey, ...previous] = entries;
    if (!signingKey || publicKeyOfSecretPaserk(signingKey) === null) {
      problems.push(`${name} (from ${origin}) must start with the signing key as k4.secret.…, optionally followed by older keys (k4.public.… or k4.secret.…) separated by commas`);
      continue;
    }
    const previousPublicKeys: string[] = [];
    for (const key of previous) {
      const pub = isPublicPaserk(key) ? key : publicKeyOfSecretPaserk(key);
      if (pub === null) problems.push(`${name} (from ${origin}) has an entry that is neither k4.public.… nor k4.secret.…`);
      else previousPublicKeys.push(pub);
    }
    tokens[purpose] = { signingKey, previousPublicKeys };
  }

  if (problems.length > 0) throw new KeyMaterialError(problems);
  return { opaque: { oprfSeed, akePrivateKey, akePublicKey }, tokens, totpEncryptionKey };
}
