/**
 * A Redis Cluster master fails under load: it crashes (SIGKILL) or hangs (SIGSTOP: a frozen host
 * or a partition, whose connections stay open and silent). A private cluster of three masters
 * with one replica each (cluster-node-timeout 1 s; the shared Redis is never touched), two Cypher
 * instances on PostgreSQL (a fresh schema of TEST_DATABASE_URL) in this process, on
 * REDIS_CLUSTER_NODES.
 *
 * The master that fails owns the revocation channel's slot, so the sharded subscription must move
 * too. Expected: VerifySession keeps answering throughout on both instances (PostgreSQL is the
 * truth); once the replica has taken the slots over, logins work again on both within
 * FAILOVER_BOUND_MS, the subscription reports "lost" then "restored", and a revocation made on one
 * instance is broadcast to the others and refused everywhere.
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
import { REVOCATION_CHANNEL } from "../../server/session/liveness/revocations.js";
import { RedisClusterKeyValueStore } from "../../server/storage/kv/redis-cluster-key-value-store.js";
import { GENEROUS_LIMITS } from "../hardening/support/hardening-server.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { OwnRedisCluster } from "./support/own-redis-cluster.js";
import { codeOf, verifyUnderLoad } from "./support/verify-load.js";

/** cluster-node-timeout of the test cluster. */
const NODE_TIMEOUT_MS = 1_000;
/** The store's defaults: slot map re-read interval, and command/connect timeout. */
const SLOTS_REFRESH_MS = 2_000;
const COMMAND_TIMEOUT_MS = 2_000;
/**
 * Longest a master's slots may stay unusable, from its failure to a working login: Redis flags the
 * master as failing after one node timeout and as failed once a majority agrees (about one more);
 * the replica waits 0.5 s plus up to 0.5 s before its election, and an election without a
 * majority is retried after 2 * max(2 * node timeout, 2 s); the client learns the new owner at its
 * next slot map refresh, which may first wait for the hung master (the slots refresh timeout,
 * also 2 s). Then one login (OPAQUE, two round trips, on a shared 2-core machine): 2 s more.
 */
const FAILOVER_BOUND_MS = 2 * NODE_TIMEOUT_MS + 1_000 + 2 * Math.max(2 * NODE_TIMEOUT_MS, 2_000) + 2 * SLOTS_REFRESH_MS + 2_000;
/**
 * The subscriber's extra delay on a hung master: an unanswered PING at a refresh (command timeout),
 * then closing the silent connection (the disconnect timeout, equal to it).
 */
const SUBSCRIBER_BOUND_MS = FAILOVER_BOUND_MS + 2 * COMMAND_TIMEOUT_MS;

const failures = [
  { name: "crashes (SIGKILL)", fail: (cluster: OwnRedisCluster, port: number) => cluster.kill(port) },
  { name: "hangs (SIGSTOP: its connections stay open and silent)", fail: (cluster: OwnRedisCluster, port: number) => cluster.freeze(port) },
];

if (!TEST_DATABASE_URL || !process.env.TEST_REDIS_URL) {
  describe.skip("fault: a Redis Cluster master fails (set TEST_DATABASE_URL and TEST_REDIS_URL to run)", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe.each(failures)("fault: a Redis Cluster master $name, its replica takes over", ({ fail }) => {
    let cluster: OwnRedisCluster;
    let schema: TestSchema;
    const servers: CypherServer[] = [];
    let watcher: RedisClusterKeyValueStore;
    let dir: string;
    let a: Clients;
    let b: Clients;
    let users: User[];
    let sessions: Tokens[];

    beforeAll(async () => {
      cluster = await OwnRedisCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
      schema = await createTestSchema(TEST_DATABASE_URL!);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-fault-cluster-"));
      const clients: Clients[] = [];
      // One DATA_DIR: the same key material, as instances of one deployment share (the first makes it).
      for (let i = 0; i < 2; i++) {
        const env = {
          PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", DATA_DIR: dir, OPAQUE_WORKER_THREADS: "1",
          DATABASE_URL: schema.url, REDIS_CLUSTER_NODES: cluster.nodesEnv, ...GENEROUS_LIMITS,
        };
        const server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env });
        servers.push(server);
        expect(server.storage.kv).toBe("redis cluster");
        clients.push(cypherClients(createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" })));
      }
      [a, b] = clients as [Clients, Clients];
      // What a third instance of the deployment hears (same default key prefix as the servers).
      watcher = await RedisClusterKeyValueStore.connect({ nodes: cluster.seeds });
      users = [await registerUser(a, "fault-cluster-a"), await registerUser(a, "fault-cluster-b")];
      sessions = [await login(a, users[0]!), await login(b, users[1]!), await login(a, users[0]!)];
    }, 90_000);

    afterAll(async () => {
      await watcher?.close();
      for (const server of servers) await server.stop();
      await cluster?.destroy();
      await schema?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("keeps verifying on every instance, resumes logins and revocation broadcasts once the replica took over", { timeout: 90_000 }, async () => {
      const states: string[] = [];
      watcher.onSubscriptionStateChange((s) => states.push(s));
      const heard: string[] = [];
      await watcher.subscribe(REVOCATION_CHANNEL, (m) => heard.push(m));

      const loads = [verifyUnderLoad(a, sessions), verifyUnderLoad(b, sessions)];
      try {
        const channelSlot = calculateSlot("cypher:channels");
        const victim = await cluster.masterOf(channelSlot);
        await fail(cluster, victim);
        const failedAt = Date.now();

        // Logins come back on each instance once the replica is master, within the bound.
        for (const [name, c] of [["a", a], ["b", b]] as const) {
          let relogged: Tokens | undefined;
          while (!relogged && Date.now() - failedAt < FAILOVER_BOUND_MS) {
            relogged = await login(c, users[1]!).catch(async () => {
              await new Promise((r) => setTimeout(r, 200));
              return undefined;
            });
          }
          expect(relogged, `a login on instance ${name} works again within ${FAILOVER_BOUND_MS} ms`).toBeDefined();
        }
        expect(await cluster.masterOf(channelSlot)).not.toBe(victim);

        // The sharded subscription followed the slot to the new master.
        await vi.waitFor(() => expect(states).toEqual(["lost", "restored"]), {
          timeout: Math.max(0, SUBSCRIBER_BOUND_MS - (Date.now() - failedAt)),
          interval: 50,
        });
        const revoked = await login(a, users[0]!);
        await a.session.logout({}, bearer(revoked.accessToken));
        await vi.waitFor(() => expect(heard.join()).toContain(revoked.sessionId), { timeout: 5_000, interval: 20 });
        for (const c of [a, b]) {
          const refused = await c.session.verifySession({ accessToken: revoked.accessToken }).then(() => undefined, (e: unknown) => e);
          expect(codeOf(refused)).toBe("Unauthenticated");
        }
      } finally {
        for (const load of loads) await load.stop();
      }
      // VerifySession never failed for a live session, before, during or after the failover.
      for (const { outcomes } of loads) {
        expect([...outcomes.keys()].filter((k) => k !== "OK"), JSON.stringify([...outcomes])).toEqual([]);
        expect(outcomes.get("OK") ?? 0).toBeGreaterThan(0);
      }
      for (const c of [a, b]) {
        for (const s of sessions) {
          expect((await c.session.verifySession({ accessToken: s.accessToken })).session?.sessionId).toBe(s.sessionId);
        }
      }
    });
  });
}
