/**
 * Two SessionService instances sharing real PostgreSQL and Redis (and key material), as two
 * processes behind a load balancer would (needs TEST_DATABASE_URL and TEST_REDIS_URL), on a single
 * Redis and on a private three-master Redis Cluster (support/shared-redis.ts). Each run uses its
 * own PostgreSQL schema and Redis key prefix (or cluster) and removes them afterwards.
 */
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { ManualClock } from "../../server/clock.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { totpCodeAt } from "../../server/auth/totp.js";
import { REVOCATION_CHANNEL } from "../../server/session/liveness/revocations.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { bearer, createActiveUser, createSessionHarness, expectRpcError, type SessionHarness } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { sharedRedisDeployments, type SharedStore } from "./support/shared-redis.js";

const databaseUrl = TEST_DATABASE_URL;
const deployments = sharedRedisDeployments();

if (!databaseUrl || deployments.length === 0) {
  describe.skip("SessionService on two instances (set TEST_DATABASE_URL and TEST_REDIS_URL to run)", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
}
for (const redis of databaseUrl ? deployments : []) {
  describe(`SessionService on two instances sharing PostgreSQL and ${redis.name}`, () => {
    let schema: TestSchema;
    const stores: SharedStore[] = [];
    let a: { ctx: TestContext; h: SessionHarness };
    let b: { ctx: TestContext; h: SessionHarness };

    beforeAll(async () => {
      schema = await createTestSchema(databaseUrl!);
      const keys = await generateKeyMaterial();
      // One clock for both "processes" (their clocks agree, as NTP-synced hosts do), near real
      // time so Redis's own TTLs and the application's expiries tell the same story.
      const clock = new ManualClock(Date.now());
      const instance = async () => {
        const kv = await redis.connect();
        stores.push(kv);
        const ctx = await createTestContext({ databaseUrl: schema.url, kv, keys, clock });
        return { ctx, h: await createSessionHarness(ctx) };
      };
      a = await instance();
      b = await instance();
    });

    afterAll(async () => {
      for (const i of [a, b]) {
        await i?.h.close();
        await i?.ctx.close();
      }
      for (const store of stores) await store.close();
      await schema?.drop();
      await redis.release();
    });

    it("a session created on one instance verifies, refreshes and lists on the other", async () => {
      const user = await createActiveUser(a.ctx);
      const { sessionId, accessToken, refreshToken } = await a.h.login(user, "laptop");
      await expect(b.h.client.verifySession({ accessToken })).resolves.toMatchObject({ session: { sessionId, deviceName: "laptop" } });
      const refreshed = await b.h.client.refreshSession({ refreshToken });
      await expect(a.h.client.verifySession({ accessToken: refreshed.tokens!.accessToken })).resolves.toBeDefined();
      const { sessions } = await a.h.client.listSessions({}, bearer(refreshed.tokens!.accessToken));
      expect(sessions.map((s) => s.sessionId)).toEqual([sessionId]);
    });

    it("a logout on one instance makes VerifySession fail on the other within 100 ms", async () => {
      const user = await createActiveUser(a.ctx);
      const { sessionId, accessToken } = await a.h.login(user);
      // Instance B has the session warm in the shared cache.
      await b.h.client.verifySession({ accessToken });

      // What instance B's revocation subscription hears, timed.
      let broadcastAfterMs: number | undefined;
      const unsubscribe = await stores[1]!.subscribe(REVOCATION_CHANNEL, (message) => {
        if (message.includes(sessionId)) broadcastAfterMs = performance.now() - started;
      });

      const started = performance.now();
      let refusedAfterMs: number | undefined;
      const watching = (async () => {
        while (performance.now() - started < 2_000) {
          try {
            await b.h.client.verifySession({ accessToken });
          } catch (error) {
            expect(ConnectError.from(error).code).toBe(Code.Unauthenticated);
            refusedAfterMs = performance.now() - started;
            return;
          }
        }
      })();
      await a.h.client.logout({}, bearer(accessToken));
      const logoutDoneMs = performance.now() - started;
      await watching;
      expect(refusedAfterMs, "instance B never refused the token").toBeDefined();
      // Refused no later than 100 ms after Logout returned (in practice: before it returned, since
      // the tombstone is written before the broadcast).
      expect(refusedAfterMs!).toBeLessThanOrEqual(logoutDoneMs + 100);
      await vi.waitFor(() => expect(broadcastAfterMs).toBeDefined(), { timeout: 1_000, interval: 5 });
      expect(broadcastAfterMs!).toBeLessThanOrEqual(logoutDoneMs + 100);
      await unsubscribe();
      // From the moment Logout returned, B refuses.
      await expectRpcError(b.h.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    });

    it("50 parallel RefreshSession calls with one token, across both instances, yield exactly one successor pair", async () => {
      const user = await createActiveUser(a.ctx);
      const { sessionId, refreshToken } = await a.h.login(user);
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).h.client.refreshSession({ refreshToken })),
      );
      const pairs = new Set(
        results.flatMap((r) => (r.status === "fulfilled" ? [`${r.value.tokens!.accessToken} ${r.value.tokens!.refreshToken}`] : [])),
      );
      expect(pairs.size).toBe(1);
      for (const r of results) {
        if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.Unauthenticated);
      }
      const rows = await a.ctx.db.selectFrom("refresh_tokens").select(["generation", "used_at"]).where("session_id", "=", sessionId).orderBy("generation").execute();
      expect(rows.map((r) => [r.generation, r.used_at !== null])).toEqual([
        [0, true],
        [1, false],
      ]);
    });

    it("accepts one TOTP code once even when two instances receive it at the same time", async () => {
      const user = await createActiveUser(a.ctx);
      const code = await a.h.totp(user);
      const results = await Promise.allSettled(
        [a, b, a, b].map(async (i) => i.h.client.createSession({ loginToken: await i.h.loginToken(user), secondFactor: { case: "totpCode", value: code } })),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const sessions = await a.ctx.db.selectFrom("sessions").select("id").where("user_id", "=", user.id).execute();
      expect(sessions).toHaveLength(1);
    });

    it("a reused refresh token after the grace revokes the session on both instances", async () => {
      const user = await createActiveUser(a.ctx);
      const { accessToken, refreshToken } = await a.h.login(user);
      const rotated = await a.h.client.refreshSession({ refreshToken });
      a.ctx.clock.advance((a.ctx.config.tokens.refreshReuseGraceSeconds + 1) * 1000);
      await expectRpcError(b.h.client.refreshSession({ refreshToken }), Code.Unauthenticated, "TOKEN_REUSED");
      for (const i of [a, b]) {
        for (const token of [accessToken, rotated.tokens!.accessToken]) {
          await expectRpcError(i.h.client.verifySession({ accessToken: token }), Code.Unauthenticated, "TOKEN_REVOKED");
        }
      }
    });

    it("shares the per-account cap on wrong second factors between the instances", async () => {
      const user = await createActiveUser(a.ctx);
      const now = a.ctx.clock.now().getTime();
      const valid = new Set(await Promise.all([-1, 0, 1].map((k) => totpCodeAt(user.totpSecret, new Date(now + k * 30_000)))));
      const wrong = ["111111", "222222", "333333"].find((c) => !valid.has(c))!;
      // Ten wrong codes, alternating instances, each on a fresh login token.
      for (let i = 0; i < 10; i++) {
        const { h } = i % 2 === 0 ? a : b;
        await expectRpcError(
          h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: wrong } }),
          Code.Unauthenticated,
          "SECOND_FACTOR_INVALID",
        );
      }
      // The right code is now refused on both, with RetryInfo.
      for (const { h } of [a, b]) {
        const refused = await expectRpcError(
          h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user) } }),
          Code.ResourceExhausted,
        );
        expect(refused.findDetails(RetryInfoSchema)).toHaveLength(1);
      }
    });
  });
}
