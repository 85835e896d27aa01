/**
 * The KV copy of session liveness, so VerifySession (the hot path) answers without PostgreSQL.
 * Read-through: a miss loads the session from PostgreSQL and restores the entry.
 *
 * Keys: `session:<id>` holds either a live session or a revocation tombstone.
 *
 * The revoke-vs-refill race. A VerifySession that read PostgreSQL just BEFORE a revocation
 * committed would, by writing its (now stale) live copy afterwards, bring a revoked session back to
 * life in the cache. Two rules prevent it:
 *  1. Revocation commits in PostgreSQL first, then overwrites the key with a TOMBSTONE that lives at
 *     least as long as any access token of the session (the revocation window), not a plain delete.
 *  2. A read-through refill writes only if the key is absent (SET NX). It therefore either lands
 *     before the tombstone (which then overwrites it) or finds the tombstone and is dropped.
 * Writers that must REPLACE a live entry (RefreshSession updating last_refreshed_at) cannot use NX;
 * they write and then re-read PostgreSQL, re-tombstoning if a revocation slipped in between (see
 * `replace`). PostgreSQL stays the truth: losing a tombstone (eviction, expiry) only costs a
 * database read, never a wrong answer.
 * Tombstones double as a negative cache: a revoked session's tokens are refused without PostgreSQL.
 *
 * In front of this KV copy sits an in-process one (local-session-cache.ts); changes made here drop
 * its copies of the sessions concerned.
 */
import type { Clock } from "../../clock.js";
import type { Db } from "../../storage/database.js";
import type { KeyValueStore } from "../../storage/kv/key-value-store.js";
import type { SessionRecord } from "../session-record.js";
import { findSession } from "../session-store.js";
import type { LocalSessionCache } from "./local-session-cache.js";

export type CachedSession = { kind: "live"; session: SessionRecord } | { kind: "revoked" } | { kind: "miss" };

interface LiveEntry {
  state: "live";
  userId: string;
  username: string;
  deviceName: string;
  createdAtMs: number;
  expiresAtMs: number;
  lastRefreshedAtMs: number | null;
}

const TOMBSTONE = JSON.stringify({ state: "revoked" });

export function cacheKey(sessionId: string): string {
  return `session:${sessionId}`;
}

export class SessionCache {
  readonly #kv: KeyValueStore;
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #liveTtlMs: number;
  readonly #tombstoneTtlMs: number;

  readonly #local: LocalSessionCache | undefined;

  /**
   * `liveTtlMs`: a live entry is worth keeping about as long as the access token that loaded it.
   * `tombstoneTtlMs`: beyond the access-token lifetime, so a tombstone outlives every token it must refuse.
   */
  constructor(options: { kv: KeyValueStore; db: Db; clock: Clock; liveTtlMs: number; tombstoneTtlMs: number; local?: LocalSessionCache }) {
    this.#kv = options.kv;
    this.#local = options.local;
    this.#db = options.db;
    this.#clock = options.clock;
    this.#liveTtlMs = options.liveTtlMs;
    this.#tombstoneTtlMs = options.tombstoneTtlMs;
  }

  async get(sessionId: string): Promise<CachedSession> {
    const raw = await this.#kv.get(cacheKey(sessionId));
    if (raw === null) return { kind: "miss" };
    const entry = decode(raw);
    if (entry === "revoked") return { kind: "revoked" };
    if (entry === null) return { kind: "miss" };
    return {
      kind: "live",
      session: {
        id: sessionId,
        userId: entry.userId,
        username: entry.username,
        deviceName: entry.deviceName,
        createdAt: new Date(entry.createdAtMs),
        expiresAt: new Date(entry.expiresAtMs),
        lastRefreshedAt: entry.lastRefreshedAtMs === null ? null : new Date(entry.lastRefreshedAtMs),
        revokedAt: null,
      },
    };
  }

  /** Restores the entry of a live session read from PostgreSQL; never overwrites a tombstone. */
  async fill(session: SessionRecord): Promise<void> {
    const ttlMs = this.#ttlFor(session);
    if (ttlMs > 0) await this.#kv.set(cacheKey(session.id), encode(session), ttlMs, { onlyIfAbsent: true });
  }

  /**
   * Replaces the entry of a session just changed in PostgreSQL (new last_refreshed_at), then reads
   * PostgreSQL again: if the session was revoked meanwhile, the tombstone is written back.
   */
  async replace(session: SessionRecord): Promise<void> {
    const ttlMs = this.#ttlFor(session);
    if (ttlMs <= 0) return;
    this.#local?.forget([session.id]);
    await this.#kv.set(cacheKey(session.id), encode(session), ttlMs);
    const current = await findSession(this.#db, session.id);
    if (current === null || current.revokedAt !== null) await this.markRevoked([session.id]);
  }

  /** Writes tombstones (after the revocation committed in PostgreSQL). */
  async markRevoked(sessionIds: string[]): Promise<void> {
    this.#local?.forget(sessionIds);
    await Promise.all(sessionIds.map((id) => this.#kv.set(cacheKey(id), TOMBSTONE, this.#tombstoneTtlMs)));
  }

  #ttlFor(session: SessionRecord): number {
    return Math.min(this.#liveTtlMs, session.expiresAt.getTime() - this.#clock.now().getTime());
  }
}

function encode(session: SessionRecord): string {
  const entry: LiveEntry = {
    state: "live",
    userId: session.userId,
    username: session.username,
    deviceName: session.deviceName,
    createdAtMs: session.createdAt.getTime(),
    expiresAtMs: session.expiresAt.getTime(),
    lastRefreshedAtMs: session.lastRefreshedAt?.getTime() ?? null,
  };
  return JSON.stringify(entry);
}

/** The entry, "revoked" for a tombstone, or null for anything unreadable (treated as a miss). */
function decode(raw: Uint8Array): LiveEntry | "revoked" | null {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.state === "revoked") return "revoked";
  if (
    v.state !== "live" ||
    typeof v.userId !== "string" ||
    typeof v.username !== "string" ||
    typeof v.deviceName !== "string" ||
    typeof v.createdAtMs !== "number" ||
    typeof v.expiresAtMs !== "number" ||
    (v.lastRefreshedAtMs !== null && typeof v.lastRefreshedAtMs !== "number")
  ) {
    return null;
  }
  return v as unknown as LiveEntry;
}
