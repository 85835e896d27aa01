/**
 * A Redis Cluster master dies under load (a private cluster of three masters with one replica
 * each, cluster-node-timeout 1 s; the shared Redis is never touched), with Cypher on PostgreSQL (a
 * fresh schema of TEST_DATABASE_URL) in this process, on REDIS_CLUSTER_NODES.
 *
 * The master killed is the one owning the revocation channel's slot, so the sharded subscription
 * must move too. Expected: VerifySession keeps answering throughout (PostgreSQL is the truth);
 * once the replica has taken the slots over, logins work again (after a bounded unavailability),
 * the subscription reports "lost" then "restored", and revocations reach subscribers again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import calculateSlot from "cluster-key-slot";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { bearer, cypherClients, login, registerUser, type Clients, type Tokens, type User } from "../../bench/support/cypher-user.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { silentLogger } from "../../server/logger.js";
import { REVOCATION_CHANNEL } from "../../server/session/revocation.js";
import { RedisClusterKeyValueStore } from "../../server/storage/kv/redis-cluster-key-value-store.js";
import { GENEROUS_LIMITS } from "../hardening/support/hardening-server.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { OwnRedisCluster } from "./support/own-redis-cluster.js";
import { codeOf, verifyUnderLoad } from "./support/verify-load.js";


if (!TEST_DATABASE_URL || !process.env.TEST_REDIS_URL) {
  describe.skip("fault: a Redis Cluster master killed (set TEST_DATABASE_URL and TEST_REDIS_URL to run)", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("fault: a Redis Cluster master killed, its replica takes over", () => {
    let cluster: OwnRedisCluster;
    let schema: TestSchema;
    let server: CypherServer;
    let watcher: RedisClusterKeyValueStore;
    let dir: string;
    let c: Clients;
    let users: User[];
    let sessions: Tokens[];

    beforeAll(async () => {
      cluster = await OwnRedisCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1_000 });
      schema = await createTestSchema(TEST_DATABASE_URL!);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-fault-cluster-"));
      const env = { PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", DATA_DIR: dir, DATABASE_URL: schema.url, REDIS_CLUSTER_NODES: cluster.nodesEnv, ...GENEROUS_LIMITS };
      server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env });
      expect(server.storage.kv).toBe("redis cluster");
      // What another instance of the deployment hears (same default key prefix as the server).
      watcher = await RedisClusterKeyValueStore.connect({ nodes: cluster.seeds });
      c = cypherClients(createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }));
      users = [await registerUser(c, "fault-cluster-a"), await registerUser(c, "fault-cluster-b")];
      sessions = [await login(c, users[0]!), await login(c, users[1]!), await login(c, users[0]!)];
    }, 90_000);

    afterAll(async () => {
      await watcher?.close();
      await server?.stop();
      await cluster?.destroy();
      await schema?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("keeps verifying, resumes logins and revocation broadcasts once the replica took over", { timeout: 90_000 }, async () => {
      const states: string[] = [];
      watcher.onSubscriptionStateChange((s) => states.push(s));
      const heard: string[] = [];
      await watcher.subscribe(REVOCATION_CHANNEL, (m) => heard.push(m));

      const load = verifyUnderLoad(c, sessions);
      const outcomes = load.outcomes;

      try {
        const channelSlot = calculateSlot("cypher:channels");
        const victim = await cluster.masterOf(channelSlot);
        await cluster.kill(victim);
        const killedAt = Date.now();

        // Logins come back once the replica is master (node timeout + election), within a bound.
        let relogged: Tokens | undefined;
        while (!relogged && Date.now() - killedAt < 30_000) {
          relogged = await login(c, users[1]!).catch(async () => {
            await new Promise((r) => setTimeout(r, 200));
            return undefined;
          });
        }
        const unavailableMs = Date.now() - killedAt;
        expect(relogged, "a login works again after the failover").toBeDefined();
        expect(unavailableMs).toBeLessThan(30_000);
        expect(await cluster.masterOf(channelSlot)).not.toBe(victim);

        // The sharded subscription followed the slot to the new master.
        await vi.waitFor(() => expect(states).toEqual(["lost", "restored"]), { timeout: 15_000, interval: 50 });
        const revoked = await login(c, users[0]!);
        await c.session.logout({}, bearer(revoked.accessToken));
        await vi.waitFor(() => expect(heard.join()).toContain(revoked.sessionId), { timeout: 5_000, interval: 20 });
        const refused = await c.session.verifySession({ accessToken: revoked.accessToken }).then(() => undefined, (e: unknown) => e);
        expect(codeOf(refused)).toBe("Unauthenticated");
      } finally {
        await load.stop();
      }
      // VerifySession never failed for a live session, before, during or after the failover.
      expect([...outcomes.keys()].filter((k) => k !== "OK"), JSON.stringify([...outcomes])).toEqual([]);
      expect(outcomes.get("OK") ?? 0).toBeGreaterThan(0);
      for (const s of sessions) {
        expect((await c.session.verifySession({ accessToken: s.accessToken })).session?.sessionId).toBe(s.sessionId);
      }
    });
  });
}
