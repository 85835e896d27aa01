/**
 * VerifySession at rpc level: signature, expiry and purpose; the session live through the KV cache
 * (no PostgreSQL on the hot path), PostgreSQL on a miss, and no revoked session brought back to life
 * by a refill that raced a revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";
import type { AppContext } from "../../server/app-context.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import { cacheKey } from "../../server/session/liveness/session-cache.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { bearer, createActiveUser, createSessionHarness, expectRpcError, type SessionHarness } from "../support/session-fixture.js";

/** Counts the queries that reach the database, and can hold the next result back (to stage a race). */
class QueryProbe implements KyselyPlugin {
  count = 0;
  #hold: { reached: () => void; release: Promise<void> } | undefined;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count += 1;
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const hold = this.#hold;
    if (hold) {
      this.#hold = undefined;
      hold.reached();
      await hold.release;
    }
    return args.result;
  }

  /** The next query runs, then its result waits until `release` is called. */
  holdNextResult(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((r) => (reached = r));
    const releasePromise = new Promise<void>((r) => (release = r));
    this.#hold = { reached, release: releasePromise };
    return { reached: reachedPromise, release };
  }
}

describe("VerifySession", () => {
  let ctx: TestContext;
  let probe: QueryProbe;
  let probed: AppContext;
  let h: SessionHarness;

  beforeAll(async () => {
    ctx = await createTestContext();
    probe = new QueryProbe();
    probed = { ...ctx, db: ctx.db.withPlugin(probe) };
    h = await createSessionHarness(probed);
  });
  afterAll(async () => {
    await h?.close();
    await ctx?.close();
  });

  async function queriesDuring(call: () => Promise<unknown>): Promise<number> {
    const before = probe.count;
    await call();
    return probe.count - before;
  }

  it("answers for a live session from the cache, without a database round-trip", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken } = await h.login(user, "phone");
    let res;
    const queries = await queriesDuring(async () => {
      res = await h.client.verifySession({ accessToken });
    });
    expect(queries).toBe(0);
    expect(res!.session).toMatchObject({ sessionId, userId: user.id, username: user.username, deviceName: "phone", current: true });
  });

  it("reads PostgreSQL on a cache miss and restores the cache", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken } = await h.login(user);
    await ctx.kv.del(cacheKey(sessionId));
    expect(await queriesDuring(() => h.client.verifySession({ accessToken }))).toBeGreaterThan(0);
    expect(await ctx.kv.get(cacheKey(sessionId))).not.toBeNull();
    expect(await queriesDuring(() => h.client.verifySession({ accessToken }))).toBe(0);
  });

  it("refuses an expired access token with TOKEN_EXPIRED", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    const start = ctx.clock.now().getTime();
    ctx.clock.advance(ctx.config.tokens.accessTtlSeconds * 1000);
    await h.client.verifySession({ accessToken });
    ctx.clock.advance(1000);
    await expectRpcError(h.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_EXPIRED");
    ctx.clock.set(start);
  });

  it("refuses tokens of other purposes, foreign tokens and garbage with TOKEN_INVALID", async () => {
    const user = await createActiveUser(ctx);
    const { refreshToken } = await h.login(user);
    const loginToken = await h.loginToken(user);
    const foreign = await createPasetoTokenService(await generateKeyMaterial(), ctx.clock);
    const forged = (await foreign.issue("access", { sub: user.id, sid: user.id, username: user.username }, { ttlSeconds: 60 })).token;
    for (const token of [refreshToken, loginToken, forged, "v4.public.abc", "Bearer x", "\u0000"]) {
      await expectRpcError(h.client.verifySession({ accessToken: token }), Code.Unauthenticated, "TOKEN_INVALID");
    }
  });

  it("answers InvalidArgument for an empty access_token", async () => {
    await expectRpcError(h.client.verifySession({ accessToken: "" }), Code.InvalidArgument);
  });

  it("refuses a revoked session with TOKEN_REVOKED, also after the cache forgot it", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken } = await h.login(user);
    await h.client.logout({}, bearer(accessToken));
    await expectRpcError(h.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");

    // Another instance that never heard the broadcast, with the tombstone gone: PostgreSQL decides,
    // and the tombstone is written back.
    await ctx.kv.del(cacheKey(sessionId));
    const other = await createSessionHarness(probed);
    try {
      await expectRpcError(other.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
      expect(JSON.parse(new TextDecoder().decode((await ctx.kv.get(cacheKey(sessionId)))!))).toEqual({ state: "revoked" });
      // From the tombstone on, refused without the database.
      const fresh = await createSessionHarness(probed);
      try {
        expect(
          await queriesDuring(() => expectRpcError(fresh.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED")),
        ).toBe(0);
      } finally {
        await fresh.close();
      }
    } finally {
      await other.close();
    }
  });

  it("never lets a refill that read PostgreSQL before a revocation bring the session back", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken } = await h.login(user);
    await ctx.kv.del(cacheKey(sessionId));

    // A VerifySession reads the live session from PostgreSQL and is held there...
    const hold = probe.holdNextResult();
    const racing = h.client.verifySession({ accessToken });
    await hold.reached;
    // ...while the session is revoked (PostgreSQL, tombstone, broadcast)...
    await h.client.logout({}, bearer(accessToken));
    // ...then it writes its stale copy to the cache.
    hold.release();
    await racing;

    expect(JSON.parse(new TextDecoder().decode((await ctx.kv.get(cacheKey(sessionId)))!))).toEqual({ state: "revoked" });
    // An instance that only has the shared cache (no broadcast heard) refuses too.
    const other = await createSessionHarness(probed);
    try {
      await expectRpcError(other.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    } finally {
      await other.close();
    }
  });
});
