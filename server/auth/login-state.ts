/**
 * The server's half of a login between LoginInit and LoginFinish, kept in the KV store (Redis when
 * several instances share the work, so any instance can finish a login another began) under a
 * random `login_id` for 120 seconds, and consumed exactly once with an atomic get-and-delete
 * (opaque-ts's authFinish would accept the same KE3 twice).
 *
 * It holds the serialized ExpectedAuthResult, which is secret (expected client MAC and session
 * key): it never leaves the server, and the KV store is as sensitive as the database.
 */
import { randomBytes } from "node:crypto";
import type { KeyValueStore } from "../storage/kv/key-value-store.js";

export const LOGIN_STATE_TTL_MS = 120_000;
/** 24 random bytes (192 bits) in base64url. */
const LOGIN_ID_BYTES = 24;
const LOGIN_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;
const KEY_PREFIX = "auth:login:";

export interface LoginState {
  /** The account, or null for a login begun against a fake record (it can never finish). */
  userId: string | null;
  /** Normalized username, for the audit log and to reset the attempt budget on success. */
  username: string;
  /** The known device's credential id when LoginInit showed a valid one (its budget is reset on success). */
  deviceCredentialId: string | null;
  /** Serialized ExpectedAuthResult. */
  expected: Uint8Array;
}

interface StoredLoginState {
  v: 1;
  u: string | null;
  n: string;
  e: string;
  d?: string | null;
}

export function newLoginId(): string {
  return randomBytes(LOGIN_ID_BYTES).toString("base64url");
}

export function isWellFormedLoginId(loginId: string): boolean {
  return LOGIN_ID_PATTERN.test(loginId);
}

export async function saveLoginState(kv: KeyValueStore, loginId: string, state: LoginState): Promise<void> {
  const stored: StoredLoginState = {
    v: 1,
    u: state.userId,
    n: state.username,
    e: Buffer.from(state.expected).toString("base64url"),
    d: state.deviceCredentialId,
  };
  const saved = await kv.set(KEY_PREFIX + loginId, JSON.stringify(stored), LOGIN_STATE_TTL_MS, { onlyIfAbsent: true });
  // 192 random bits do not collide; if they ever did, refusing beats overwriting someone's login.
  if (!saved) throw new Error("login id collision");
}

/** The state, removed from the store; null when unknown, expired or already taken. */
export async function takeLoginState(kv: KeyValueStore, loginId: string): Promise<LoginState | null> {
  const raw = await kv.getDel(KEY_PREFIX + loginId);
  if (raw === null) return null;
  try {
    const stored = JSON.parse(new TextDecoder().decode(raw)) as StoredLoginState;
    if (stored.v !== 1 || typeof stored.n !== "string" || typeof stored.e !== "string") return null;
    return {
      userId: stored.u,
      username: stored.n,
      deviceCredentialId: typeof stored.d === "string" ? stored.d : null,
      expected: new Uint8Array(Buffer.from(stored.e, "base64url")),
    };
  } catch {
    return null;
  }
}
