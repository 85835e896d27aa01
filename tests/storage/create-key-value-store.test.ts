import { describe, expect, it } from "vitest";
import { ManualClock } from "../../server/clock.js";
import { createLogger } from "../../server/logger.js";
import { createKeyValueStore, redactUrl } from "../../server/storage/kv/create-key-value-store.js";
import { MemoryKeyValueStore } from "../../server/storage/kv/memory-key-value-store.js";

function capturingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger("debug", (line) => lines.push(line)) };
}

describe("createKeyValueStore", () => {
  it("without REDIS_URL uses the in-process store on the given clock, and says so", async () => {
    const { lines, logger } = capturingLogger();
    const clock = new ManualClock();
    const kv = await createKeyValueStore({ redisUrl: undefined }, logger, clock);
    try {
      expect(kv).toBeInstanceOf(MemoryKeyValueStore);
      expect(lines.join("\n")).toContain("in-process");
      await kv.set("k", "v", 1_000);
      clock.advance(999);
      expect(await kv.get("k")).not.toBeNull();
      clock.advance(1);
      expect(await kv.get("k")).toBeNull();
    } finally {
      await kv.close();
    }
  });

  it("with a REDIS_URL that does not answer, fails at once with a clear error that hides the password", async () => {
    const { lines, logger } = capturingLogger();
    const startedAt = Date.now();
    const attempt = createKeyValueStore({ redisUrl: "redis://app:hunter2@127.0.0.1:1/0" }, logger);
    await expect(attempt).rejects.toThrow(/REDIS_URL is set to redis:\/\/app:\*\*\*@127\.0\.0\.1:1\/0 but Redis .* did not answer: .*ECONNREFUSED/);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    const error = await attempt.catch((e: Error) => e);
    expect(String(error)).not.toContain("hunter2");
    expect(lines.join("\n")).not.toContain("hunter2");
  });
});

describe("createKeyValueStore on Redis Cluster", () => {
  it("with REDIS_CLUSTER_NODES that do not answer, fails at once with a clear error that hides the password", async () => {
    const { lines, logger } = capturingLogger();
    const startedAt = Date.now();
    const redisCluster = { nodes: [{ host: "127.0.0.1", port: 1 }, { host: "127.0.0.1", port: 2 }], username: "app", password: "hunter2", tls: false };
    const attempt = createKeyValueStore({ redisUrl: undefined, redisCluster }, logger);
    await expect(attempt).rejects.toThrow(/^REDIS_CLUSTER_NODES is set to 127\.0\.0\.1:1,127\.0\.0\.1:2 but Redis \(cluster commands connection\) did not answer/);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    const error = await attempt.catch((e: Error) => e);
    expect(String(error)).not.toContain("hunter2");
    expect(lines.join("\n")).not.toContain("hunter2");
  });
});

describe("redactUrl", () => {
  it("replaces only the password", () => {
    expect(redactUrl("rediss://user:p%40ss@cache.example:6380/2")).toBe("rediss://user:***@cache.example:6380/2");
    expect(redactUrl("redis://:secret@localhost:6379")).toBe("redis://:***@localhost:6379");
    expect(redactUrl("redis://localhost:6379")).toBe("redis://localhost:6379");
    expect(redactUrl("not a url :secret@")).toBe("(unparseable URL)");
  });
});
