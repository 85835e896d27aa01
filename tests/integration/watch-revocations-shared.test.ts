/**
 * Revocations across instances sharing real PostgreSQL and Redis (needs TEST_DATABASE_URL and
 * TEST_REDIS_URL; on a single Redis and on a private three-master Redis Cluster, see
 * support/shared-redis.ts): a WatchRevocations subscriber on one instance hears revocations made on another,
 * resumes without gaps or duplicates, and keeps hearing them while the broadcast is down; a
 * VerifySession after a logout on another instance is refused at once, broadcast or not. Each run
 * uses its own schema and key prefix.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { ManualClock } from "../../server/clock.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import { silentLogger } from "../../server/logger.js";
import { createSessionModule, type SessionModule } from "../../server/rpc/session-module.js";
import { RedisKeyValueStore } from "../../server/storage/kv/redis-key-value-store.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import type { TokenService } from "../../server/tokens/token-service.js";
import { createErrorMappingInterceptor } from "../../server/transport/error-mapping.js";
import { peerAddressKey } from "../../server/transport/request-meta.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { bearer, createActiveUser, expectRpcError, type TestUser } from "../support/session-fixture.js";
import { totpCodeAt } from "../../server/auth/totp.js";
import { followRevocations } from "../support/follow-revocations.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { TcpProxy } from "./support/tcp-proxy.js";
import { sharedRedisDeployments, type SharedStore } from "./support/shared-redis.js";

const databaseUrl = TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;
const deployments = sharedRedisDeployments();

interface Instance {
  ctx: TestContext;
  kv: SharedStore;
  module: SessionModule;
  client: Client<typeof SessionService>;
  tokens: TokenService;
}

if (!databaseUrl || !redisUrl || deployments.length === 0) {
  describe.skip("WatchRevocations across instances (set TEST_DATABASE_URL and TEST_REDIS_URL to run)", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
}
for (const redis of databaseUrl && redisUrl ? deployments : []) {
  // On a single Redis, B reaches it through a proxy, so a test can take Redis away from B alone
  // (on the cluster, the failover fault test covers the interrupted subscription).
  const single = redis.name === "Redis";
  describe(`WatchRevocations and VerifySession across instances sharing PostgreSQL and ${redis.name}`, () => {
    const target = new URL(redisUrl!);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    let schema: TestSchema;
    let a: Instance;
    let b: Instance;
    const clock = new ManualClock(Date.now());

    const peer: Interceptor = (next) => (req) => {
      req.contextValues.set(peerAddressKey, "192.0.2.9");
      return next(req);
    };

    async function instance(url: string | undefined, keys: Awaited<ReturnType<typeof generateKeyMaterial>>): Promise<Instance> {
      const timeouts = { commandTimeoutMs: 500, connectTimeoutMs: 500 };
      const kv = url ? await RedisKeyValueStore.connect({ url, keyPrefix: redis.keyPrefix, ...timeouts }) : await redis.connect(timeouts);
      const ctx = await createTestContext({ databaseUrl: schema.url, kv, keys, clock });
      const tokens = await createPasetoTokenService(ctx.keys, ctx.clock);
      // A short poll, so a lost broadcast is made up for within the test's patience.
      const module = await createSessionModule(ctx, tokens, { revocationPollIntervalMs: 200 });
      // The internal port's SessionService: a backend following every account's revocations.
      const transport = createRouterTransport((router) => router.service(SessionService, module.internalService), {
        router: { interceptors: [peer, createErrorMappingInterceptor(silentLogger)] },
      });
      return { ctx, kv, module, tokens, client: createClient(SessionService, transport) };
    }

    async function login(on: Instance, user: TestUser): Promise<{ sessionId: string; accessToken: string }> {
      const loginToken = (await on.tokens.issue("login", { sub: user.id, username: user.username }, { ttlSeconds: 180 })).token;
      // Each login of these tests is a new account, so the current TOTP code is always unused.
      const res = await on.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: await totpCodeAt(user.totpSecret, clock.now()) } });
      return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken };
    }

    async function revokedOn(on: Instance): Promise<string> {
      const { sessionId, accessToken } = await login(on, await createActiveUser(on.ctx));
      await on.client.logout({}, bearer(accessToken));
      return sessionId;
    }


    beforeAll(async () => {
      schema = await createTestSchema(databaseUrl!);
      const keys = await generateKeyMaterial();
      a = await instance(undefined, keys);
      if (single) {
        await proxy.start();
        const viaProxy = new URL(redisUrl!);
        viaProxy.host = `127.0.0.1:${proxy.port}`;
        // B reaches Redis through the proxy, so the test can take Redis away from B alone.
        b = await instance(viaProxy.toString(), keys);
      } else {
        b = await instance(undefined, keys);
      }
    });

    afterAll(async () => {
      for (const i of [a, b]) {
        await i?.module.close();
        await i?.ctx.close();
        await i?.kv.close();
      }
      if (single) await proxy.stop();
      await schema?.drop();
      await redis.release();
    });

    it("delivers a revocation made on one instance to a subscriber on the other, live", async () => {
      const watch = followRevocations(b);
      await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
      const sessionId = await revokedOn(a);
      await vi.waitFor(() => expect(watch.ids()).toContain(sessionId), { timeout: 1_000, interval: 5 });
      await watch.stop();
    });

    it("refuses a token on the very next call after a logout on the other instance", async () => {
      const { accessToken } = await login(a, await createActiveUser(a.ctx));
      // B serves the session from memory after these.
      await b.client.verifySession({ accessToken });
      await b.client.verifySession({ accessToken });
      await a.client.logout({}, bearer(accessToken));
      await expectRpcError(b.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    });

    it("resumes on the other instance from the cursor with every revocation made meanwhile, in commit order, once", async () => {
      const first = followRevocations(b);
      await vi.waitFor(() => expect(first.caughtUp()).toBe(true));
      const seen = await revokedOn(a);
      await vi.waitFor(() => expect(first.ids()).toContain(seen));
      const cursor = first.lastCursor();
      await first.stop();

      // Revocations on both instances at once while nobody watches.
      const missed = await Promise.all([revokedOn(a), revokedOn(b), revokedOn(a), revokedOn(b), revokedOn(a)]);
      const resumed = followRevocations(a, cursor);
      await vi.waitFor(() => expect(resumed.caughtUp()).toBe(true));
      expect([...resumed.ids()].sort()).toEqual([...missed].sort());
      const numbers = resumed.received.filter((r) => !r.caughtUp).map((r) => BigInt(r.cursor.slice("rv1.".length)));
      expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!)).toBe(true);

      // Live revocations from both instances interleaved: each exactly once.
      const live = await Promise.all([revokedOn(b), revokedOn(a), revokedOn(b)]);
      await vi.waitFor(() => expect(resumed.ids()).toEqual(expect.arrayContaining(live)));
      expect(new Set(resumed.ids()).size).toBe(resumed.ids().length);
      await resumed.stop();
    });

    if (single) it("keeps delivering while the broadcast is down, and reports and recovers the subscription", async () => {
      const states: string[] = [];
      const stopListening = b.kv.onSubscriptionStateChange((s) => states.push(s));
      const watch = followRevocations(b);
      await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
      try {
        await proxy.stop();
        await vi.waitFor(() => expect(states).toEqual(["lost"]));

        // A's revocation is published while B cannot hear it; B's stream learns of it from
        // PostgreSQL (the periodic look at the log's tail).
        const sessionId = await revokedOn(a);
        await vi.waitFor(() => expect(watch.ids()).toContain(sessionId), { timeout: 3_000, interval: 20 });

        await proxy.start();
        await vi.waitFor(() => expect(states).toEqual(["lost", "restored"]), { timeout: 5_000, interval: 20 });
        // Once restored, broadcasts reach B again: the message of the next revocation arrives.
        const heard: string[] = [];
        const unsubscribe = await b.kv.subscribe("session-revocations", (m) => heard.push(m));
        const next = await revokedOn(a);
        await vi.waitFor(() => expect(heard.join()).toContain(next));
        await unsubscribe();
        await vi.waitFor(() => expect(watch.ids()).toContain(next));
      } finally {
        stopListening();
        await watch.stop();
      }
    });
  });
}
