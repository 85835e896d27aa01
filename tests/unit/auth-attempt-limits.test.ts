import { afterEach, describe, expect, it } from "vitest";
import { AttemptLimits, clientNetwork, type LoginLimitSettings } from "../../server/auth/attempt-limits.js";
import { ManualClock } from "../../server/clock.js";
import { MemoryKeyValueStore } from "../../server/storage/kv/memory-key-value-store.js";

const settings: LoginLimitSettings = {
  loginFailuresPerUsername: 4,
  loginFailureWindowSeconds: 600,
  loginAttemptsPerIp: 1000,
  loginIpWindowSeconds: 600,
  loginBackoffFreeFailures: 2,
  loginBackoffBaseMs: 1000,
  loginBackoffMaxMs: 1500,
  registrationsPerIp: 2,
  registrationIpWindowSeconds: 60,
};

const stores: MemoryKeyValueStore[] = [];
function limits(overrides: Partial<LoginLimitSettings> = {}) {
  const clock = new ManualClock();
  const kv = new MemoryKeyValueStore({ nowMs: () => clock.now().getTime() });
  stores.push(kv);
  return { clock, limits: new AttemptLimits(kv, clock, { ...settings, ...overrides }) };
}
afterEach(async () => {
  for (const kv of stores.splice(0)) await kv.close();
});

describe("client networks", () => {
  it("are the address for IPv4 and the /64 for IPv6, whatever the spelling", () => {
    expect(clientNetwork("203.0.113.5")).toBe("203.0.113.5");
    expect(clientNetwork("2001:db8:85a3:0042:1000:8a2e:370:7334")).toBe("2001:db8:85a3:42::/64");
    expect(clientNetwork("2001:DB8:85A3:42::1")).toBe("2001:db8:85a3:42::/64");
    expect(clientNetwork("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientNetwork("::1")).toBe("0:0:0:0::/64");
    expect(clientNetwork("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(clientNetwork("unknown")).toBe("unknown");
  });
});

describe("attempt limits", () => {
  it("cap the backoff delay and lock out past the budget until the window ends", async () => {
    const { clock, limits: l } = limits();
    const trace: string[] = [];
    const tryOnce = async () => {
      const o = await l.checkLogin("alice", "203.0.113.1");
      trace.push(o.allowed ? "ok" : `wait ${o.retryAfterMs}${o.lockedOutNow ? " locked" : ""}`);
    };
    await tryOnce(); // 1
    await tryOnce(); // 2: gate 1000
    await tryOnce();
    clock.advance(1000);
    await tryOnce(); // 3: gate 1500 (capped, not 2000)
    clock.advance(1500);
    await tryOnce(); // 4: gate 1500
    clock.advance(1500);
    await tryOnce(); // 5: over budget
    await tryOnce();
    expect(trace).toEqual(["ok", "ok", "wait 1000", "ok", "ok", "wait 596000 locked", "wait 596000"]);
  });

  it("reset clears budget and backoff", async () => {
    const { limits: l } = limits();
    await l.checkLogin("bob", "203.0.113.1");
    await l.checkLogin("bob", "203.0.113.1");
    expect((await l.checkLogin("bob", "203.0.113.1")).allowed).toBe(false);
    await l.resetLogin("bob");
    expect((await l.checkLogin("bob", "203.0.113.1")).allowed).toBe(true);
  });

  it("count one IPv6 /64 as one client, and registrations per step", async () => {
    const { limits: l } = limits();
    expect((await l.checkRegistration("init", "2001:db8:1:2::a")).allowed).toBe(true);
    expect((await l.checkRegistration("init", "2001:db8:1:2::b")).allowed).toBe(true);
    expect(await l.checkRegistration("init", "2001:db8:1:2:ffff::c")).toEqual({ allowed: false, retryAfterMs: 60_000, lockedOutNow: false });
    expect((await l.checkRegistration("init", "2001:db8:1:3::a")).allowed).toBe(true);
    expect((await l.checkRegistration("finish", "2001:db8:1:2::a")).allowed).toBe(true);
  });
});
