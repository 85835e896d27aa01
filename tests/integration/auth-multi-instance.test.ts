/**
 * Two AuthService instances sharing Redis (and the database and key material), as two processes
 * behind a load balancer would: a login begun on one finishes on the other, exactly once, and the
 * attempt limits are one budget across both. Runs on a single Redis (TEST_REDIS_URL) and on a
 * private three-master Redis Cluster (support/shared-redis.ts); uses PostgreSQL too when
 * TEST_DATABASE_URL is set (its own schema), otherwise one embedded database for both instances.
 * Each run uses its own Redis key prefix and removes its keys (or its cluster) afterwards.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../server/app-context.js";
import { createAuthModule, type AuthModule } from "../../server/rpc/auth-module.js";
import { ManualClock } from "../../server/clock.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import type { TokenService } from "../../server/tokens/token-service.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { sharedRedisDeployments, type SharedStore } from "./support/shared-redis.js";
import { type AuthClient, authClient, beginLogin, enroll, expectCode, from, register, retryDelayMsOf, someKe1 } from "../rpc/auth-helpers.js";

const deployments = sharedRedisDeployments();

if (deployments.length === 0) {
  describe.skip("AuthService on two instances (set TEST_REDIS_URL to run)", () => {
    it("needs Redis", () => {});
  });
}
for (const redis of deployments) {
  describe(`AuthService on two instances sharing ${redis.name}`, () => {
    let schema: TestSchema | undefined;
    const contexts: TestContext[] = [];
    const stores: SharedStore[] = [];
    const modules: AuthModule[] = [];
    let tokens: TokenService;
    let a: AuthClient;
    let b: AuthClient;

    beforeAll(async () => {
      if (TEST_DATABASE_URL) schema = await createTestSchema(TEST_DATABASE_URL);
      const keys = await generateKeyMaterial();
      // One clock for both "processes", near real time so Redis's TTLs and the application agree.
      const clock = new ManualClock(Date.now());
      // The backoff gate lives in Redis for its delay, in real time: with the default first delay
      // (1 s) a loaded machine could take longer than that between two attempts, and the gate
      // would be gone before the attempt it must stop.
      const env = { LOGIN_BACKOFF_BASE_MS: "60000" };
      const connect = async () => {
        const kv = await redis.connect();
        stores.push(kv);
        return kv;
      };
      const first = await createTestContext({ env, kv: await connect(), keys, clock, databaseUrl: schema?.url });
      contexts.push(first);
      let second: AppContext;
      if (schema) {
        const ctx = await createTestContext({ env, kv: await connect(), keys, clock, databaseUrl: schema.url });
        contexts.push(ctx);
        second = ctx;
      } else {
        second = { ...first, kv: await connect() }; // one embedded database cannot be opened twice
      }
      tokens = await createPasetoTokenService(keys, clock);
      for (const ctx of [first, second]) modules.push(await createAuthModule(ctx, tokens));
      a = authClient(modules[0]!.service);
      b = authClient(modules[1]!.service);
    });

    afterAll(async () => {
      for (const module of modules) await module.close();
      for (const ctx of contexts) await ctx.close();
      for (const kv of stores) await kv.close();
      await redis.release();
      await schema?.drop();
    });

    it("finishes on one instance a login begun on the other, exactly once", async () => {
      const clock = contexts[0]!.clock;
      const { enrollmentToken } = await register(a, "multi-alice", "pw of alice");
      await enroll(b, enrollmentToken, clock.now());
      const login = await beginLogin(a, "multi-alice", "pw of alice");
      expect(login.ok).toBe(true);
      if (!login.ok) return;
      const finished = await b.loginFinish({ loginId: login.loginId, ke3: login.ke3 });
      const verified = await tokens.verify("login", finished.loginToken);
      expect(verified.claims.username).toBe("multi-alice");
      await expectCode(a.loginFinish({ loginId: login.loginId, ke3: login.ke3 }), Code.Unauthenticated);
      await expectCode(b.loginFinish({ loginId: login.loginId, ke3: login.ke3 }), Code.Unauthenticated);
    });

    it("counts attempts on both instances against one budget", async () => {
      const ke1 = await someKe1();
      const outcomes: string[] = [];
      for (let i = 0; i < 7; i++) {
        const instance = i % 2 === 0 ? a : b;
        try {
          await instance.loginInit({ username: "multi-bob", ke1 }, from(`10.9.${i}.1`));
          outcomes.push("ok");
        } catch (e) {
          const error = await expectCode(Promise.reject(e), Code.ResourceExhausted);
          outcomes.push(retryDelayMsOf(error) !== undefined ? "wait" : "no retry info");
        }
      }
      // Five free attempts in total (not five per instance), then the backoff gate closes for both.
      expect(outcomes).toEqual(["ok", "ok", "ok", "ok", "ok", "wait", "wait"]);
    });
  });
}
