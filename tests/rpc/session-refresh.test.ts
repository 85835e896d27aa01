/**
 * RefreshSession at rpc level: single-use rotation, the reuse grace (same successor pair), theft
 * detection after it, parallel callers, and the session's absolute lifetime.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AppContext } from "../../server/app-context.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import {
  bearer,
  callOptions,
  createActiveUser,
  createSessionHarness,
  expectRpcError,
  TEST_IP,
  type SessionHarness,
} from "../support/session-fixture.js";

describe("RefreshSession", () => {
  let ctx: TestContext;
  let h: SessionHarness;

  beforeAll(async () => {
    ctx = await createTestContext();
    h = await createSessionHarness(ctx);
  });
  afterAll(async () => {
    await h?.close();
    await ctx?.close();
  });

  it("exchanges a refresh token once for a new pair that records what it replaced", async () => {
    const user = await createActiveUser(ctx);
    const first = await h.login(user);
    const oldJti = (await h.tokens.verify("refresh", first.refreshToken)).jti;
    ctx.clock.advance(60_000);
    const now = ctx.clock.now();

    const res = await h.client.refreshSession({ refreshToken: first.refreshToken }, callOptions());
    const tokens = res.tokens!;
    expect(tokens.accessToken).not.toBe(first.accessToken);
    expect(tokens.refreshToken).not.toBe(first.refreshToken);
    expect(timestampDate(tokens.accessTokenExpiresAt!).getTime()).toBe(now.getTime() + 900_000);
    expect(timestampDate(tokens.refreshTokenExpiresAt!).getTime()).toBe(now.getTime() + 7 * 86_400_000);
    expect(res.session).toMatchObject({ sessionId: first.sessionId, current: true });
    expect(timestampDate(res.session!.lastRefreshedAt!)).toEqual(now);

    const successor = await h.tokens.verify("refresh", tokens.refreshToken);
    expect(successor.claims).toEqual({ sid: first.sessionId, gen: 1 });
    const rows = await ctx.db.selectFrom("refresh_tokens").selectAll().where("session_id", "=", first.sessionId).orderBy("generation").execute();
    expect(rows.map((r) => ({ id: r.id, generation: r.generation, replaces: r.replaces_id, used: r.used_at }))).toEqual([
      { id: oldJti, generation: 0, replaces: null, used: now },
      { id: successor.jti, generation: 1, replaces: oldJti, used: null },
    ]);

    // VerifySession (from the cache) sees the refresh.
    const verified = await h.client.verifySession({ accessToken: tokens.accessToken });
    expect(timestampDate(verified.session!.lastRefreshedAt!)).toEqual(now);

    const audit = await ctx.db.selectFrom("audit_log").selectAll().where("session_id", "=", first.sessionId).where("event", "=", "session.refreshed").execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ user_id: user.id, ip: TEST_IP });
    expect(JSON.stringify(audit)).not.toContain(first.refreshToken);

    // The new refresh token rotates in turn.
    const third = await h.client.refreshSession({ refreshToken: tokens.refreshToken });
    expect((await h.tokens.verify("refresh", third.tokens!.refreshToken)).claims.gen).toBe(2);
  });

  it("hands out the same successor pair for the same token within the grace period", async () => {
    const user = await createActiveUser(ctx);
    const { refreshToken } = await h.login(user);
    const first = await h.client.refreshSession({ refreshToken });
    ctx.clock.advance(ctx.config.tokens.refreshReuseGraceSeconds * 1000);
    const again = await h.client.refreshSession({ refreshToken });
    expect(again.tokens).toEqual(first.tokens);
    expect(again.session).toEqual(first.session);
    const rows = await ctx.db.selectFrom("refresh_tokens").select("id").where("session_id", "=", first.session!.sessionId).execute();
    expect(rows).toHaveLength(2);
    // And the successor still works.
    await h.client.refreshSession({ refreshToken: first.tokens!.refreshToken });
  });

  it("audits every re-issue within the grace period", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, refreshToken } = await h.login(user);
    const first = await h.client.refreshSession({ refreshToken });
    await h.client.refreshSession({ refreshToken }, callOptions());
    await h.client.refreshSession({ refreshToken }, callOptions());
    const successorJti = (await h.tokens.verify("refresh", first.tokens!.refreshToken)).jti;
    const audit = await ctx.db.selectFrom("audit_log").selectAll().where("session_id", "=", sessionId).where("event", "=", "session.refresh_grace_reissued").execute();
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ user_id: user.id, ip: TEST_IP, details: { jti: successorJti, generation: 1 } });
  });

  it("treats a rotated token shown again within the grace as reuse once its successor has been spent", async () => {
    const user = await createActiveUser(ctx);
    const stolen = await h.login(user);
    const rotated = await h.client.refreshSession({ refreshToken: stolen.refreshToken });
    // The legitimate client moves on: the successor is spent.
    const next = await h.client.refreshSession({ refreshToken: rotated.tokens!.refreshToken });
    ctx.clock.advance(1_000);
    // A copy of the first token, still within its grace, gets nothing but a revoked session.
    await expectRpcError(h.client.refreshSession({ refreshToken: stolen.refreshToken }, callOptions()), Code.Unauthenticated, "TOKEN_REUSED");
    await expectRpcError(h.client.verifySession({ accessToken: next.tokens!.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    const audit = await ctx.db.selectFrom("audit_log").select("event").where("session_id", "=", stolen.sessionId).where("event", "in", ["session.refresh_reuse_detected", "session.refresh_grace_reissued"]).execute();
    expect(audit.map((a) => a.event)).toEqual(["session.refresh_reuse_detected"]);
  });

  it("treats reuse after the grace period as theft: the whole session is revoked and audited", async () => {
    const user = await createActiveUser(ctx);
    const stolen = await h.login(user);
    const rotated = await h.client.refreshSession({ refreshToken: stolen.refreshToken });
    ctx.clock.advance((ctx.config.tokens.refreshReuseGraceSeconds + 1) * 1000);

    await expectRpcError(h.client.refreshSession({ refreshToken: stolen.refreshToken }, callOptions()), Code.Unauthenticated, "TOKEN_REUSED");
    // Every token of the session is now refused, the legitimate successor included.
    await expectRpcError(h.client.verifySession({ accessToken: rotated.tokens!.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    await expectRpcError(h.client.refreshSession({ refreshToken: rotated.tokens!.refreshToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    await expectRpcError(h.client.refreshSession({ refreshToken: stolen.refreshToken }), Code.Unauthenticated, "TOKEN_REVOKED");

    const session = await ctx.db.selectFrom("sessions").selectAll().where("id", "=", stolen.sessionId).executeTakeFirstOrThrow();
    expect(session.revoked_reason).toBe("refresh_reuse");
    const audit = await ctx.db.selectFrom("audit_log").selectAll().where("session_id", "=", stolen.sessionId).where("event", "=", "session.refresh_reuse_detected").execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ user_id: user.id, ip: TEST_IP, details: { generation: 0, seconds_since_use: 11 } });
  });

  it("yields exactly one successor pair for 50 parallel calls with one token", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, refreshToken } = await h.login(user);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => h.client.refreshSession({ refreshToken })));
    const pairs = new Set(results.flatMap((r) => (r.status === "fulfilled" ? [JSON.stringify([r.value.tokens!.accessToken, r.value.tokens!.refreshToken])] : [])));
    expect(pairs.size).toBe(1);
    // All within the grace period, so all get that pair.
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(50);
    const rows = await ctx.db.selectFrom("refresh_tokens").select("generation").where("session_id", "=", sessionId).execute();
    expect(rows.map((r) => r.generation).sort()).toEqual([0, 1]);
  });

  it("refuses the refresh token of a logged-out session", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken, refreshToken } = await h.login(user);
    await h.client.logout({}, bearer(accessToken));
    await expectRpcError(h.client.refreshSession({ refreshToken }), Code.Unauthenticated, "TOKEN_REVOKED");
  });

  it("refuses an expired refresh token, tokens of other purposes, garbage, and no token at all", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken, refreshToken } = await h.login(user);
    await expectRpcError(h.client.refreshSession({ refreshToken: accessToken }), Code.Unauthenticated, "TOKEN_INVALID");
    await expectRpcError(h.client.refreshSession({ refreshToken: "v4.public.e30" }), Code.Unauthenticated, "TOKEN_INVALID");
    // Empty field, no browser cookie: nothing was presented.
    await expectRpcError(h.client.refreshSession({ refreshToken: "" }), Code.Unauthenticated, "TOKEN_INVALID");
    // A cookie is only read from the web client.
    await expectRpcError(h.client.refreshSession({}, callOptions({ cookie: `__Host-cypher_refresh=${refreshToken}` })), Code.Unauthenticated, "TOKEN_INVALID");

    const start = ctx.clock.now().getTime();
    ctx.clock.advance(ctx.config.tokens.refreshTtlSeconds * 1000 + 1000);
    await expectRpcError(h.client.refreshSession({ refreshToken }), Code.Unauthenticated, "TOKEN_EXPIRED");
    ctx.clock.set(start);
  });
});

describe("RefreshSession and the session's absolute lifetime", () => {
  let ctx: TestContext;
  let h: SessionHarness;
  const lifetimeSeconds = 1200;

  beforeAll(async () => {
    ctx = await createTestContext({ env: { SESSION_MAX_LIFETIME_SECONDS: String(lifetimeSeconds) } });
    h = await createSessionHarness(ctx as AppContext);
  });
  afterAll(async () => {
    await h?.close();
    await ctx?.close();
  });

  it("never issues tokens past the session's end, and stops refreshing at it", async () => {
    const user = await createActiveUser(ctx);
    const created = ctx.clock.now().getTime();
    const end = created + lifetimeSeconds * 1000;
    const { refreshToken } = await h.login(user);
    expect((await h.tokens.verify("refresh", refreshToken)).expiresAt.getTime()).toBe(end);

    ctx.clock.advance(800_000);
    const res = await h.client.refreshSession({ refreshToken });
    expect(timestampDate(res.tokens!.accessTokenExpiresAt!).getTime()).toBe(end);
    expect(timestampDate(res.tokens!.refreshTokenExpiresAt!).getTime()).toBe(end);
    expect(timestampDate(res.session!.expiresAt!).getTime()).toBe(end);

    ctx.clock.set(end - 1000);
    await h.client.verifySession({ accessToken: res.tokens!.accessToken });
    ctx.clock.set(end + 1000);
    await expectRpcError(h.client.refreshSession({ refreshToken: res.tokens!.refreshToken }), Code.Unauthenticated, "TOKEN_EXPIRED");
    await expectRpcError(h.client.verifySession({ accessToken: res.tokens!.accessToken }), Code.Unauthenticated, "TOKEN_EXPIRED");
  });
});
