/**
 * The verified-token cache on its own: keyed by SHA-256 (never the token), bounded with the least
 * recently used entry going first, never answering past the token's expiry.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../server/clock.js";
import { VerifiedTokenCache } from "../../server/session/liveness/verified-token-cache.js";

const inMinutes = (clock: ManualClock, minutes: number) => new Date(clock.now().getTime() + minutes * 60_000);

describe("VerifiedTokenCache", () => {
  it("keys entries by the token's SHA-256, so the token itself is never held", () => {
    const token = "v4.public.eyJzdWIiOiJ4In0.signature";
    expect(VerifiedTokenCache.keyOf(token)).toBe(createHash("sha256").update(token).digest("base64"));
    expect(VerifiedTokenCache.keyOf(token)).not.toContain("eyJ");
  });

  it("answers until the token's expiry and not a millisecond after", () => {
    const clock = new ManualClock();
    const cache = new VerifiedTokenCache<string>({ clock });
    cache.set("k", "claims", "s1", inMinutes(clock, 15));
    clock.advance(15 * 60_000 - 1);
    expect(cache.get("k")).toBe("claims");
    clock.advance(1);
    expect(cache.get("k")).toBeUndefined();
    expect(cache.size).toBe(0);
    // Already expired: not stored at all.
    cache.set("old", "claims", "s1", clock.now());
    expect(cache.get("old")).toBeUndefined();
  });

  it("keeps at most maxEntries, dropping the least recently used", () => {
    const clock = new ManualClock();
    const cache = new VerifiedTokenCache<number>({ clock, maxEntries: 3 });
    for (const [i, key] of ["a", "b", "c"].entries()) cache.set(key, i, `s-${key}`, inMinutes(clock, 15));
    expect(cache.get("a")).toBe(0); // a is now the most recently used
    cache.set("d", 3, "s-d", inMinutes(clock, 15));
    expect(cache.size).toBe(3);
    expect(cache.get("b")).toBeUndefined();
    expect([cache.get("a"), cache.get("c"), cache.get("d")]).toEqual([0, 2, 3]);
  });

  it("forgets every entry of a revoked session, and only those", () => {
    const clock = new ManualClock();
    const cache = new VerifiedTokenCache<string>({ clock });
    cache.set("t1", "x", "s1", inMinutes(clock, 15));
    cache.set("t2", "x", "s1", inMinutes(clock, 15));
    cache.set("t3", "y", "s2", inMinutes(clock, 15));
    cache.forgetSessions(["s1"]);
    expect([cache.get("t1"), cache.get("t2"), cache.get("t3")]).toEqual([undefined, undefined, "y"]);
  });

  it("stores nothing with maxEntries 0", () => {
    const clock = new ManualClock();
    const cache = new VerifiedTokenCache<string>({ clock, maxEntries: 0 });
    cache.set("k", "x", "s", inMinutes(clock, 15));
    expect(cache.get("k")).toBeUndefined();
  });
});
