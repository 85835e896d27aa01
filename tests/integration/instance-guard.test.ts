/**
 * Two instances on one database (needs TEST_DATABASE_URL and TEST_REDIS_URL): instances with Redis
 * share it; an instance keeping its state in-process shares it with none, and the one that would
 * come second refuses to start, saying why. Each test uses its own schema, as deployments in
 * different schemas of one database do not see each other.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { createLogger } from "../../server/logger.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { TEST_REDIS_URL } from "../storage/redis-test-support.js";

describe("instance guard: one process per embedded data directory", () => {
  it("refuses a DATA_DIR claimed by a live process, takes over a stale claim, and releases its own", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-instance-guard-embedded-"));
    const other = spawn("sleep", ["60"]);
    try {
      const env = { PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", DATA_DIR: dir, OPAQUE_WORKER_THREADS: "1" };
      const start = () => startCypherServer({ config: loadConfig(env), logger: createLogger("error", () => {}), env });
      writeFileSync(path.join(dir, "cypher.pid"), String(other.pid));
      await expect(start()).rejects.toThrow(/another Cypher instance uses the embedded database in .*give this one its own DATA_DIR/);
      other.kill("SIGKILL");
      await new Promise((resolve) => other.once("exit", resolve));
      const server = await start();
      await server.stop();
      expect(existsSync(path.join(dir, "cypher.pid"))).toBe(false);
    } finally {
      other.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

const databaseUrl = TEST_DATABASE_URL;
const redisUrl = TEST_REDIS_URL;

if (!databaseUrl || !redisUrl) {
  describe.skip("instance guard (set TEST_DATABASE_URL and TEST_REDIS_URL to run)", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("instance guard: two instances on one database", () => {
    let schema: TestSchema;
    let dir: string;
    const running: CypherServer[] = [];

    beforeEach(async () => {
      schema = await createTestSchema(databaseUrl);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-instance-guard-"));
    });

    afterEach(async () => {
      for (const server of running.splice(0)) await server.stop();
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const start = async (withRedis: boolean, url = schema.url) => {
      const env: Record<string, string> = {
        PORT: "0", METRICS_PORT: "0",
        HOST: "127.0.0.1",
        GRPC_PORT: "off",
        DATA_DIR: dir,
        DATABASE_URL: url,
        OPAQUE_WORKER_THREADS: "1",
        ...(withRedis ? { REDIS_URL: redisUrl } : {}),
      };
      const server = await startCypherServer({ config: loadConfig(env), logger: createLogger("error", () => {}), env });
      running.push(server);
      return server;
    };

    it("refuses a second instance with in-process state, and lets it start once the first has stopped", async () => {
      const first = await start(false);
      await expect(start(false)).rejects.toThrow(/another Cypher instance uses this database.*set REDIS_URL on every instance/);
      await first.stop();
      running.splice(running.indexOf(first), 1);
      await start(false);
    });

    it("lets instances with Redis share the database", async () => {
      await start(true);
      await start(true);
    });

    it("refuses an in-process instance next to one with Redis, and the other way round", async () => {
      const withRedis = await start(true);
      await expect(start(false)).rejects.toThrow(/another Cypher instance uses this database/);
      await withRedis.stop();
      running.splice(running.indexOf(withRedis), 1);
      await start(false);
      await expect(start(true)).rejects.toThrow(/another Cypher instance uses this database \(same schema\) without REDIS_URL/);
    });

    it("does not count an instance in another schema of the same database", async () => {
      const other = await createTestSchema(databaseUrl);
      try {
        await start(false);
        const elsewhere = await start(false, other.url);
        await elsewhere.stop();
        running.splice(running.indexOf(elsewhere), 1);
      } finally {
        await other.drop();
      }
    });
  });
}
