/**
 * What the Redis store does beyond the shared contract (needs TEST_REDIS_URL): key and channel
 * prefixes, start-up through createKeyValueStore, and behaviour while Redis is unreachable or
 * stalled (simulated with a TCP proxy in front of the real server).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Redis } from "ioredis";
import { CypherError } from "../../server/errors.js";
import { createLogger } from "../../server/logger.js";
import { createKeyValueStore } from "../../server/storage/kv/create-key-value-store.js";
import { RedisKeyValueStore } from "../../server/storage/kv/redis-key-value-store.js";
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueKeyPrefix } from "../storage/redis-test-support.js";
import { TcpProxy } from "./support/tcp-proxy.js";

const waitFor = (check: () => void | Promise<void>, timeout = 5_000) => vi.waitFor(check, { timeout, interval: 20 });


const url = TEST_REDIS_URL;
if (!url) {
  describe.skip("Redis key-value store (set TEST_REDIS_URL to run)", () => {
    it("needs TEST_REDIS_URL", () => {});
  });
} else {
  describe("Redis key-value store", () => {
    const keyPrefix = uniqueKeyPrefix();
    let raw: Redis;

    beforeAll(async () => {
      raw = new Redis(url, { lazyConnect: true });
      await raw.connect();
    });
    afterAll(async () => {
      await raw.quit();
      await deleteKeysWithPrefix(url, keyPrefix);
    });

    it("puts its prefix on every key and channel, so stores with different prefixes do not meet", async () => {
      const a = await RedisKeyValueStore.connect({ url, keyPrefix: `${keyPrefix}a:` });
      const b = await RedisKeyValueStore.connect({ url, keyPrefix: `${keyPrefix}b:` });
      try {
        await a.set("shared-name", "from-a", 10_000);
        await a.increment("counter", 10_000);
        expect(await raw.get(`${keyPrefix}a:shared-name`)).toBe("from-a");
        expect(await raw.get(`${keyPrefix}a:counter`)).toBe("1");
        expect(await raw.pttl(`${keyPrefix}a:counter`)).toBeGreaterThan(9_000);
        expect(await b.get("shared-name")).toBeNull();
        expect((await b.increment("counter", 10_000)).count).toBe(1);

        const onB: string[] = [];
        const onRaw: string[] = [];
        await b.subscribe("events", (m) => onB.push(m));
        const listener = raw.duplicate();
        await listener.subscribe(`${keyPrefix}a:events`);
        listener.on("message", (_channel: string, m: string) => onRaw.push(m));
        await a.publish("events", "for-a-only");
        await waitFor(() => expect(onRaw).toEqual(["for-a-only"]));
        expect(onB).toEqual([]);
        await listener.quit();
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("uses the prefix cypher: by default", async () => {
      const store = await RedisKeyValueStore.connect({ url });
      const name = `${keyPrefix}default-prefix-probe`;
      try {
        expect(store.keyPrefix).toBe("cypher:");
        await store.set(name, "x", 10_000);
        expect(await raw.exists(`cypher:${name}`)).toBe(1);
      } finally {
        await store.del(name);
        await store.close();
      }
    });

    it("is what createKeyValueStore returns when REDIS_URL is set, logged without credentials", async () => {
      const lines: string[] = [];
      const kv = await createKeyValueStore({ redisUrl: url }, createLogger("debug", (l) => lines.push(l)), undefined, {
        keyPrefix,
      });
      try {
        expect(kv).toBeInstanceOf(RedisKeyValueStore);
        expect(await kv.ping()).toBe(true);
        const logged = lines.map((l) => JSON.parse(l) as { msg: string; url?: string; keyPrefix?: string });
        expect(logged).toContainEqual(expect.objectContaining({ msg: "key-value store: Redis", keyPrefix }));
      } finally {
        await kv.close();
      }
    });

    it("after close, ping answers false and commands fail", async () => {
      const store = await RedisKeyValueStore.connect({ url, keyPrefix });
      await store.subscribe("closing", () => {});
      await store.close();
      expect(await store.ping()).toBe(false);
      await expect(store.get("anything")).rejects.toThrow();
      await store.close();
    });

    describe("while Redis is unreachable", () => {
      const target = new URL(url);
      const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
      let store: RedisKeyValueStore;
      let publisher: RedisKeyValueStore;
      const received: string[] = [];

      beforeAll(async () => {
        await proxy.start();
        const viaProxy = new URL(url);
        viaProxy.host = `127.0.0.1:${proxy.port}`;
        store = await RedisKeyValueStore.connect({ url: viaProxy.toString(), keyPrefix, commandTimeoutMs: 300, connectTimeoutMs: 300 });
        publisher = await RedisKeyValueStore.connect({ url, keyPrefix });
        await store.subscribe("revocations", (m) => received.push(m));
      });
      afterAll(async () => {
        proxy.resume();
        await store?.close();
        await publisher?.close();
        await proxy.stop();
      });

      it("fails commands at once with Unavailable, answers ping false, then recovers and resubscribes by itself", async () => {
        await publisher.publish("revocations", "before");
        await waitFor(() => expect(received).toEqual(["before"]));

        await proxy.stop();
        await waitFor(async () => expect(await store.ping()).toBe(false));
        const startedAt = Date.now();
        const failure = await store.get("k").catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(CypherError);
        expect(failure).toMatchObject({ code: "unavailable" });
        await expect(store.increment("k", 1_000)).rejects.toMatchObject({ code: "unavailable" });
        await expect(store.publish("revocations", "lost")).rejects.toMatchObject({ code: "unavailable" });
        expect(Date.now() - startedAt).toBeLessThan(500);

        await proxy.start();
        await waitFor(async () => expect(await store.ping()).toBe(true));
        await store.set("k", "back", 10_000);
        expect(new TextDecoder().decode((await store.get("k"))!)).toBe("back");
        // The subscriber connection reconnected and subscribed again without being asked.
        await waitFor(async () => {
          await publisher.publish("revocations", "after");
          expect(received).toContain("after");
        });
      });

      it("fails a command that gets no reply within commandTimeoutMs instead of hanging", async () => {
        proxy.stall();
        const startedAt = Date.now();
        await expect(store.get("k")).rejects.toMatchObject({ code: "unavailable" });
        expect(await store.ping()).toBe(false);
        expect(Date.now() - startedAt).toBeLessThan(1_500);
        proxy.resume();
        // Late replies are matched to the commands that timed out; later commands get their own.
        await waitFor(async () => expect(new TextDecoder().decode((await store.get("k"))!)).toBe("back"));
      });
    });
  });
}
