/**
 * VerifySession while Redis is unreachable and after it returns, on two instances sharing real
 * PostgreSQL and Redis (needs TEST_DATABASE_URL and TEST_REDIS_URL; Redis is reached through a TCP
 * proxy that the test cuts, the shared server itself is never touched). PostgreSQL answers during
 * the outage, so a logout committed then is refused at once; and when Redis is back, a session
 * whose tombstone was never written (its instance died) is still refused.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { totpCodeAt } from "../../server/auth/totp.js";
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
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueKeyPrefix } from "../storage/redis-test-support.js";
import { bearer, createActiveUser, expectRpcError } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { TcpProxy } from "./support/tcp-proxy.js";

const databaseUrl = TEST_DATABASE_URL;
const redisUrl = TEST_REDIS_URL;

interface Instance {
  ctx: TestContext;
  kv: RedisKeyValueStore;
  module: SessionModule;
  tokens: TokenService;
  client: Client<typeof SessionService>;
}

if (!databaseUrl || !redisUrl) {
  describe.skip("VerifySession through a Redis outage (set TEST_DATABASE_URL and TEST_REDIS_URL to run)", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("VerifySession through a Redis outage, on two instances", () => {
    const keyPrefix = uniqueKeyPrefix();
    const target = new URL(redisUrl);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const clock = new ManualClock(Date.now());
    let schema: TestSchema;
    const instances: Instance[] = [];

    const peer: Interceptor = (next) => (req) => {
      req.contextValues.set(peerAddressKey, "192.0.2.10");
      return next(req);
    };

    async function instance(keys: Awaited<ReturnType<typeof generateKeyMaterial>>): Promise<Instance> {
      const url = new URL(redisUrl!);
      url.host = `127.0.0.1:${proxy.port}`;
      const kv = await RedisKeyValueStore.connect({ url: url.toString(), keyPrefix, commandTimeoutMs: 500, connectTimeoutMs: 500 });
      const ctx = await createTestContext({ databaseUrl: schema.url, kv, keys, clock });
      const tokens = await createPasetoTokenService(ctx.keys, ctx.clock);
      const module = await createSessionModule(ctx, tokens);
      const transport = createRouterTransport((router) => router.service(SessionService, module.service), {
        router: { interceptors: [peer, createErrorMappingInterceptor(silentLogger)] },
      });
      const made = { ctx, kv, module, tokens, client: createClient(SessionService, transport) };
      instances.push(made);
      return made;
    }

    async function login(on: Instance): Promise<{ sessionId: string; accessToken: string }> {
      const user = await createActiveUser(on.ctx);
      const loginToken = (await on.tokens.issue("login", { sub: user.id, username: user.username }, { ttlSeconds: 180 })).token;
      const res = await on.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: await totpCodeAt(user.totpSecret, clock.now()) } });
      return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken };
    }

    beforeAll(async () => {
      schema = await createTestSchema(databaseUrl);
      await proxy.start();
    });

    afterAll(async () => {
      await proxy.start();
      for (const i of instances) {
        await i.module.close();
        await i.ctx.close();
        await i.kv.close();
      }
      await proxy.stop();
      await schema?.drop();
      await deleteKeysWithPrefix(redisUrl, keyPrefix);
    });

    it("answers from PostgreSQL while Redis is down, and never lets a session revoked meanwhile back in", async () => {
      const keys = await generateKeyMaterial();
      const a = await instance(keys);
      const b = await instance(keys);
      const doomed = await login(a);
      const kept = await login(a);
      for (const s of [doomed, kept]) {
        await b.client.verifySession({ accessToken: s.accessToken });
        await b.client.verifySession({ accessToken: s.accessToken }); // now in B's memory
      }

      await proxy.stop();
      // Redis unreachable: B still answers, from PostgreSQL.
      await expect(b.client.verifySession({ accessToken: kept.accessToken })).resolves.toMatchObject({ session: { sessionId: kept.sessionId } });
      // A logout now commits in PostgreSQL, though the caller hears Unavailable (no tombstone, no broadcast)...
      await expectRpcError(a.client.logout({}, bearer(doomed.accessToken)), Code.Unavailable);
      // ...and B refuses the session on its next call.
      await expectRpcError(b.client.verifySession({ accessToken: doomed.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");

      // Instance A dies before it can repair the shared cache; then Redis comes back.
      await a.module.close();
      await proxy.start();
      await vi.waitFor(async () => expect(await b.kv.ping()).toBe(true), { timeout: 5_000, interval: 50 });

      // B trusts the KV store again, whose entry for the session still says "live": it must refuse anyway.
      await expectRpcError(b.client.verifySession({ accessToken: doomed.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
      await expect(b.client.verifySession({ accessToken: kept.accessToken })).resolves.toMatchObject({ session: { sessionId: kept.sessionId } });
    });
  });
}
