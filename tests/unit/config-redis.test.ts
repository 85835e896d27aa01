import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("Redis configuration", () => {
  it("reads REDIS_CLUSTER_NODES with its credentials and TLS", () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b.internal:7001,[::1]:7002",
      REDIS_CLUSTER_USERNAME: "cypher",
      REDIS_CLUSTER_PASSWORD: "s3cret",
      REDIS_CLUSTER_TLS: "true",
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisCluster).toEqual({
      nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "redis-b.internal", port: 7001 }, { host: "::1", port: 7002 }],
      username: "cypher",
      password: "s3cret",
      tls: true,
    });
    expect(loadConfig({}).redisCluster).toBeUndefined();
  });

  it("refuses REDIS_URL and REDIS_CLUSTER_NODES together, bad node entries and cluster options without nodes, all at once", () => {
    expect(problems({ REDIS_URL: "redis://localhost:6379", REDIS_CLUSTER_NODES: "a:1,b,redis://user:pw@c:3,d:99999", REDIS_CLUSTER_TLS: "maybe" })).toEqual([
      'REDIS_CLUSTER_TLS="maybe" must be true or false',
      'REDIS_CLUSTER_NODES entry "b" must be host:port (credentials go in REDIS_CLUSTER_USERNAME / REDIS_CLUSTER_PASSWORD)',
      'REDIS_CLUSTER_NODES entry "redis://user:pw@c:3" must be host:port (credentials go in REDIS_CLUSTER_USERNAME / REDIS_CLUSTER_PASSWORD)',
      'REDIS_CLUSTER_NODES entry "d:99999" must be host:port (credentials go in REDIS_CLUSTER_USERNAME / REDIS_CLUSTER_PASSWORD)',
      "REDIS_URL and REDIS_CLUSTER_NODES are exclusive: set one (a single Redis) or the other (Redis Cluster)",
    ]);
    expect(problems({ REDIS_CLUSTER_PASSWORD: "x" })).toEqual(["REDIS_CLUSTER_PASSWORD needs REDIS_CLUSTER_NODES"]);
  });

  it("refuses a REDIS_ variable it does not know (a misspelling), naming it without its value", () => {
    const found = problems({ REDIS_URL: "redis://localhost:6379", REDIS_PASWORD: "hunter2", REDIS_CLUSTER_NODE: "a:1" });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^REDIS_CLUSTER_NODE is not a setting Cypher knows/);
    expect(found[1]).toMatch(/^REDIS_PASWORD is not a setting Cypher knows/);
    expect(found.join("\n")).not.toContain("hunter2");
  });
});
