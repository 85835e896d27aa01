/**
 * The KeyValueStore contract: one suite, run unchanged against every implementation (in-process
 * always, Redis when TEST_REDIS_URL is set). Timing uses real short TTLs and small sleeps so the
 * same test passes on both. The describe block is named "KeyValueStore contract on <backend>" so
 * the tests per backend are easy to count in the verbose reporter.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { KeyValueStore } from "../../server/storage/kv/key-value-store.js";

export interface KeyValueStoreBackend {
  name: string;
  /** The store under test (the suite closes it). */
  open(): Promise<KeyValueStore>;
  /**
   * A second instance's handle on the same shared state, as another server process would have:
   * a second connection for Redis, the same object in-process.
   */
  openPeer(store: KeyValueStore): Promise<KeyValueStore>;
  /** Runs after the stores are closed (e.g. deletes the run's Redis keys). */
  cleanup?(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));
const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 3_000, interval: 5 });

export function keyValueStoreContract(backend: KeyValueStoreBackend): void {
  describe(`KeyValueStore contract on ${backend.name}`, () => {
    let store: KeyValueStore;
    let peer: KeyValueStore;
    // Unique names per test (and per run), so nothing depends on what an earlier test left.
    const run = randomBytes(4).toString("hex");
    let n = 0;
    const unique = (name: string) => `contract:${run}:${name}:${++n}`;

    beforeAll(async () => {
      store = await backend.open();
      peer = await backend.openPeer(store);
    });
    afterAll(async () => {
      await store?.close();
      if (peer && peer !== store) await peer.close();
      await backend.cleanup?.();
    });

    it("stores a value, reads it back as plain bytes, and overwrites it", async () => {
      const key = unique("set-get");
      expect(await store.get(key)).toBeNull();
      expect(await store.set(key, "héllo", 10_000)).toBe(true);
      const value = await store.get(key);
      // A plain Uint8Array (not a Buffer, whose toString() and equals() differ) on every backend.
      expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
      expect(text(value)).toBe("héllo");
      expect(await store.set(key, "second", 10_000)).toBe(true);
      expect(text(await peer.get(key))).toBe("second");
    });

    it("round-trips binary values with all 256 byte values, unaffected by later changes to the caller's array", async () => {
      const key = unique("binary");
      const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
      expect(new Set(bytes).size).toBe(256);
      await store.set(key, bytes, 10_000);
      const expected = Uint8Array.from(bytes);
      bytes.fill(0);
      expect(await store.get(key)).toEqual(expected);
      expect(await store.getDel(key)).toEqual(expected);
      // A view into a larger buffer stores only its own bytes.
      const view = new Uint8Array(expected.buffer, 10, 5);
      await store.set(key, view, 10_000);
      expect(await store.get(key)).toEqual(Uint8Array.from(expected.subarray(10, 15)));
    });

    it("forgets a value once its TTL has passed", async () => {
      const key = unique("ttl");
      await store.set(key, "short-lived", 150);
      expect(text(await store.get(key))).toBe("short-lived");
      await sleep(250);
      expect(await store.get(key)).toBeNull();
      expect(await store.getDel(key)).toBeNull();
    });

    it("with onlyIfAbsent, stores only when the key is absent (or expired) and keeps the first value", async () => {
      const key = unique("nx");
      expect(await store.set(key, "first", 150, { onlyIfAbsent: true })).toBe(true);
      expect(await peer.set(key, "second", 10_000, { onlyIfAbsent: true })).toBe(false);
      expect(text(await store.get(key))).toBe("first");
      await sleep(250);
      expect(await store.set(key, "third", 10_000, { onlyIfAbsent: true })).toBe(true);
      expect(text(await store.get(key))).toBe("third");
    });

    it("getDel returns the value once and removes it", async () => {
      const key = unique("getdel");
      await store.set(key, "once", 10_000);
      expect(text(await store.getDel(key))).toBe("once");
      expect(await store.getDel(key)).toBeNull();
      expect(await store.get(key)).toBeNull();
      expect(await store.getDel(unique("never-set"))).toBeNull();
    });

    it("getDel gives the value to exactly one of 50 concurrent callers on two instances", async () => {
      const key = unique("getdel-race");
      await store.set(key, "login-state", 10_000);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? store : peer).getDel(key)));
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(text(winners[0] ?? null)).toBe("login-state");
    });

    it("del removes values and counters and ignores absent keys", async () => {
      const [a, b, counter] = [unique("del-a"), unique("del-b"), unique("del-counter")];
      await store.set(a, "a", 10_000);
      await store.set(b, "b", 10_000);
      await store.increment(counter, 10_000);
      await store.increment(counter, 10_000);
      await peer.del(a, b, counter, unique("del-absent"));
      await store.del();
      expect(await store.get(a)).toBeNull();
      expect(await store.get(b)).toBeNull();
      expect((await store.increment(counter, 10_000)).count).toBe(1);
    });

    it("increment counts up and reports the milliseconds left in the window", async () => {
      const key = unique("incr");
      const first = await store.increment(key, 60_000);
      expect(first.count).toBe(1);
      expect(first.ttlMs).toBeGreaterThan(59_000);
      expect(first.ttlMs).toBeLessThanOrEqual(60_000);
      expect((await peer.increment(key, 60_000)).count).toBe(2);
      expect((await store.increment(key, 60_000)).count).toBe(3);
    });

    it("keeps a fixed window: later increments do not extend it, and after it a new window starts at 1", async () => {
      const key = unique("window");
      const first = await store.increment(key, 300);
      expect(first).toMatchObject({ count: 1 });
      await sleep(150);
      const second = await store.increment(key, 300);
      expect(second.count).toBe(2);
      // The window started at the first increment: at most ~150 ms remain, not a fresh 300.
      expect(second.ttlMs).toBeLessThanOrEqual(first.ttlMs - 100);
      expect(second.ttlMs).toBeGreaterThan(0);
      await sleep(second.ttlMs + 100);
      const third = await store.increment(key, 300);
      expect(third.count).toBe(1);
      expect(third.ttlMs).toBeGreaterThan(200);
    });

    it("decrement takes back one increment within the same window, never below zero, and never creates a counter", async () => {
      const key = unique("decr");
      const first = await store.increment(key, 60_000);
      await store.increment(key, 60_000);
      await peer.decrement(key);
      const third = await store.increment(key, 60_000);
      expect(third.count).toBe(2);
      // The window is the first increment's, not a new one.
      expect(third.ttlMs).toBeLessThanOrEqual(first.ttlMs);
      for (let i = 0; i < 4; i++) await store.decrement(key);
      expect((await store.increment(key, 60_000)).count).toBe(1);

      const absent = unique("decr-absent");
      await store.decrement(absent);
      const created = await store.increment(absent, 60_000);
      expect(created.count).toBe(1);
      expect(created.ttlMs).toBeGreaterThan(59_000);
    });

    it("counts 100 parallel increments from two instances to exactly 100", async () => {
      const key = unique("incr-race");
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? store : peer).increment(key, 10_000)));
      expect(results.map((r) => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect((await store.increment(key, 10_000)).count).toBe(101);
    });

    it("delivers a published message to a subscriber on another instance, in publish order", async () => {
      const channel = unique("channel");
      const received: string[] = [];
      const unsubscribe = await peer.subscribe(channel, (m) => received.push(m));
      const messages = Array.from({ length: 20 }, (_, i) => `revoked:${i}`);
      for (const m of messages) await store.publish(channel, m);
      await waitFor(() => expect(received).toEqual(messages));
      await unsubscribe();
    });

    it("delivers each message to every subscriber, on both instances and twice on one", async () => {
      const channel = unique("fanout");
      const got = { a: [] as string[], b: [] as string[], c: [] as string[] };
      const offs = [
        await store.subscribe(channel, (m) => got.a.push(m)),
        await store.subscribe(channel, (m) => got.b.push(m)),
        await peer.subscribe(channel, (m) => got.c.push(m)),
      ];
      await store.publish(channel, "hello");
      await waitFor(() => expect(got).toEqual({ a: ["hello"], b: ["hello"], c: ["hello"] }));
      for (const off of offs) await off();
    });

    it("stops delivering to a handler once it unsubscribes, without affecting other subscriptions", async () => {
      const channel = unique("unsub");
      const marker = unique("marker");
      const stopped: string[] = [];
      const kept: string[] = [];
      const markers: string[] = [];
      const offStopped = await store.subscribe(channel, (m) => stopped.push(m));
      const offKept = await store.subscribe(channel, (m) => kept.push(m));
      const offMarker = await store.subscribe(marker, (m) => markers.push(m));

      await offStopped();
      await store.publish(channel, "one");
      await waitFor(() => expect(kept).toEqual(["one"]));
      expect(stopped).toEqual([]);

      // The last handler of a channel leaves too; a message published after it on another channel
      // arrives later than one on the left channel would have.
      await offKept();
      await store.publish(channel, "two");
      await store.publish(marker, "after");
      await waitFor(() => expect(markers).toEqual(["after"]));
      expect(kept).toEqual(["one"]);
      expect(stopped).toEqual([]);

      // Unsubscribing twice is harmless, and the channel can be subscribed again.
      await offStopped();
      const again: string[] = [];
      const offAgain = await store.subscribe(channel, (m) => again.push(m));
      await store.publish(channel, "three");
      await waitFor(() => expect(again).toEqual(["three"]));
      await offAgain();
      await offMarker();
    });

    it("keeps channels separate", async () => {
      const [left, right] = [unique("left"), unique("right")];
      const leftGot: string[] = [];
      const rightGot: string[] = [];
      const offs = [await store.subscribe(left, (m) => leftGot.push(m)), await store.subscribe(right, (m) => rightGot.push(m))];
      await store.publish(left, "for-left");
      await store.publish(right, "for-right");
      await waitFor(() => expect(rightGot).toEqual(["for-right"]));
      expect(leftGot).toEqual(["for-left"]);
      for (const off of offs) await off();
    });

    it("keeps delivering to other subscribers when a handler throws", async () => {
      const channel = unique("throwing");
      const got: string[] = [];
      const offs = [
        await store.subscribe(channel, () => {
          throw new Error("handler bug");
        }),
        await store.subscribe(channel, (m) => got.push(m)),
      ];
      await store.publish(channel, "first");
      await store.publish(channel, "second");
      await waitFor(() => expect(got).toEqual(["first", "second"]));
      for (const off of offs) await off();
    });

    it("rejects a TTL or window that is not a positive number of milliseconds", async () => {
      const key = unique("bad-ttl");
      await expect(store.set(key, "x", 0)).rejects.toThrow(TypeError);
      await expect(store.set(key, "x", -5)).rejects.toThrow(TypeError);
      await expect(store.set(key, "x", Number.NaN)).rejects.toThrow(TypeError);
      await expect(store.increment(key, 0)).rejects.toThrow(TypeError);
      expect(await store.get(key)).toBeNull();
    });

    it("answers ping", async () => {
      expect(await store.ping()).toBe(true);
      expect(await peer.ping()).toBe(true);
    });
  });
}
