/**
 * Redis Cluster key layout: the keys one operation touches together hash to one slot (so a
 * multi-key DEL is one command on one node), and different accounts and tokens spread over the
 * slots (no hot node). Checked on the key names the domain code really sends, recorded from an
 * in-process store, with the cluster's prefix in front as the cluster store adds it.
 */
import calculateSlot from "cluster-key-slot";
import { afterEach, describe, expect, it } from "vitest";
import { AttemptLimits } from "../../server/auth/attempt-limits.js";
import { ManualClock } from "../../server/clock.js";
import { LoginTokenGate } from "../../server/session/login-token-gate.js";
import { MemoryKeyValueStore } from "../../server/storage/kv/memory-key-value-store.js";

const PREFIX = "cypher:";
const slot = (key: string) => calculateSlot(PREFIX + key);

/** An in-process store that records the keys of each call. */
class RecordingStore extends MemoryKeyValueStore {
  readonly calls: { op: string; keys: string[] }[] = [];
  override async set(key: string, value: Uint8Array | string, ttlMs: number, options?: { onlyIfAbsent?: boolean }) {
    this.calls.push({ op: "set", keys: [key] });
    return super.set(key, value, ttlMs, options);
  }
  override async get(key: string) {
    this.calls.push({ op: "get", keys: [key] });
    return super.get(key);
  }
  override async increment(key: string, windowMs: number) {
    this.calls.push({ op: "increment", keys: [key] });
    return super.increment(key, windowMs);
  }
  override async del(...keys: string[]) {
    this.calls.push({ op: "del", keys });
    return super.del(...keys);
  }
  keysOf(filter: (key: string) => boolean): string[] {
    return [...new Set(this.calls.flatMap((c) => c.keys).filter(filter))];
  }
}

const stores: RecordingStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

const settings = {
  loginFailuresPerUsername: 10, loginFailureWindowSeconds: 600, loginAttemptsPerIp: 1000, loginIpWindowSeconds: 600,
  loginBackoffFreeFailures: 1, loginBackoffBaseMs: 1000, loginBackoffMaxMs: 1000, registrationsPerIp: 10, registrationIpWindowSeconds: 60,
};

describe("Redis Cluster key slots", () => {
  it("a username's attempt budget and backoff gate (deleted together) share one slot; usernames spread over the slots", async () => {
    const clock = new ManualClock();
    const kv = new RecordingStore({ nowMs: () => clock.now().getTime() });
    stores.push(kv);
    const limits = new AttemptLimits(kv, clock, settings);
    await limits.checkLogin("alice", "192.0.2.1");
    await limits.checkLogin("alice", "192.0.2.1");
    await limits.resetLogin("alice");
    const del = kv.calls.find((c) => c.op === "del")!;
    expect(del.keys).toHaveLength(2);
    const userKeys = kv.keysOf((k) => k.includes(":user:") || k.includes(":gate:"));
    expect(userKeys.length).toBeGreaterThanOrEqual(2);
    expect(new Set(userKeys.map(slot)).size).toBe(1);

    const slots = new Set(Array.from({ length: 1000 }, (_, i) => slot(AttemptLimits.keys(`user-${i}`).budget)));
    expect(slots.size).toBeGreaterThan(950);
  });

  it("a known device's own budget and backoff gate share one slot; devices spread over the slots", () => {
    const keys = AttemptLimits.deviceKeys("7f0c8a52-3d1e-4b6a-9c2f-5e8d1a4b7c90");
    expect(slot(keys.budget)).toBe(slot(keys.gate));
    const slots = new Set(Array.from({ length: 1000 }, (_, i) => slot(AttemptLimits.deviceKeys(`device-${i}`).budget)));
    expect(slots.size).toBeGreaterThan(950);
  });

  it("a login token's claim and failure counter share one slot; tokens spread over the slots", async () => {
    const clock = new ManualClock();
    const kv = new RecordingStore({ nowMs: () => clock.now().getTime() });
    stores.push(kv);
    const gate = new LoginTokenGate({ kv, clock, maxFailures: 5 });
    const slotsOfTokens = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const jti = `jti-${i}-${Math.random()}`;
      const claim = await gate.claim(jti, new Date(clock.now().getTime() + 60_000));
      await claim.failed();
      const keys = kv.keysOf((k) => k.includes(jti));
      expect(keys).toHaveLength(2);
      expect(new Set(keys.map(slot)).size).toBe(1);
      slotsOfTokens.add(slot(keys[0]!));
    }
    expect(slotsOfTokens.size).toBeGreaterThan(180);
  });
});
