/**
 * CreateSession at rpc level with a fixed clock: a login token plus a second factor become a
 * session; the token is single use and burnt by wrong codes; a TOTP step is accepted once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import {
  callOptions,
  createActiveUser,
  createSessionHarness,
  expectRpcError,
  nextTotpStep,
  TEST_IP,
  TEST_USER_AGENT,
  type SessionHarness,
} from "../support/session-fixture.js";

describe("CreateSession", () => {
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

  it("creates a session and a token pair from a login token and the current TOTP code", async () => {
    const user = await createActiveUser(ctx);
    const now = ctx.clock.now();
    const res = await h.client.createSession(
      { loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user) }, deviceName: "  Alice's laptop " },
      callOptions(),
    );
    const session = res.session!;
    expect(session.userId).toBe(user.id);
    expect(session.username).toBe(user.username);
    expect(session.deviceName).toBe("Alice's laptop");
    expect(session.current).toBe(true);
    expect(session.lastRefreshedAt).toBeUndefined();
    expect(timestampDate(session.createdAt!)).toEqual(now);
    expect(timestampDate(session.expiresAt!).getTime()).toBe(now.getTime() + 30 * 86_400_000);

    const tokens = res.tokens!;
    expect(timestampDate(tokens.accessTokenExpiresAt!).getTime()).toBe(now.getTime() + 900_000);
    expect(timestampDate(tokens.refreshTokenExpiresAt!).getTime()).toBe(now.getTime() + 7 * 86_400_000);
    const access = await h.tokens.verify("access", tokens.accessToken);
    expect(access.claims).toEqual({ sub: user.id, sid: session.sessionId, username: user.username });
    const refresh = await h.tokens.verify("refresh", tokens.refreshToken);
    expect(refresh.claims).toEqual({ sid: session.sessionId, gen: 0 });

    const row = await ctx.db.selectFrom("sessions").selectAll().where("id", "=", session.sessionId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ user_id: user.id, device_name: "Alice's laptop", revoked_at: null });
    const refreshRows = await ctx.db.selectFrom("refresh_tokens").selectAll().where("session_id", "=", session.sessionId).execute();
    expect(refreshRows).toHaveLength(1);
    expect(refreshRows[0]).toMatchObject({ id: refresh.jti, generation: 0, replaces_id: null, used_at: null });

    // The first VerifySession is answered from the cache written at creation.
    await expect(h.client.verifySession({ accessToken: tokens.accessToken })).resolves.toMatchObject({ session: { sessionId: session.sessionId } });

    const audit = await ctx.db.selectFrom("audit_log").selectAll().where("session_id", "=", session.sessionId).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ event: "session.created", user_id: user.id, username: user.username, ip: TEST_IP, user_agent: TEST_USER_AGENT });
    const serialized = JSON.stringify(audit);
    for (const secret of [tokens.accessToken, tokens.refreshToken, user.totpSecret]) expect(serialized).not.toContain(secret);
  });

  it("names a device 'Unknown device' when none is given", async () => {
    const user = await createActiveUser(ctx);
    const res = await h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user) } });
    expect(res.session!.deviceName).toBe("Unknown device");
  });

  it("accepts a login token once: a second CreateSession with it is refused", async () => {
    const user = await createActiveUser(ctx);
    const loginToken = await h.loginToken(user);
    await h.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: await h.totp(user) } });
    nextTotpStep(ctx);
    await expectRpcError(
      h.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: await h.totp(user) } }),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );
  });

  it("accepts a TOTP code once: the same code with a new login token is refused", async () => {
    const user = await createActiveUser(ctx);
    const code = await h.totp(user);
    await h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: code } });
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: code } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
    // Nor an earlier step once a later one was used.
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user, -1) } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
    const stored = await ctx.db.selectFrom("users").select("totp_last_used_step").where("id", "=", user.id).executeTakeFirstOrThrow();
    expect(Number(stored.totp_last_used_step)).toBe(Math.floor(ctx.clock.now().getTime() / 30_000));
  });

  it("accepts the codes of the previous and next step, not two steps away", async () => {
    const user = await createActiveUser(ctx);
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user, -2) } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user, 2) } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
    await h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user, -1) } });
    await h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user, 1) } });
  });

  it("accepts a recovery code once, in any case and with or without dashes", async () => {
    const user = await createActiveUser(ctx);
    const code = user.recoveryCodes[3]!;
    await h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: code.toUpperCase().replace(/-/g, " ") } });
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: code } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
    const used = await ctx.db.selectFrom("recovery_codes").select("used_at").where("user_id", "=", user.id).where("used_at", "is not", null).execute();
    expect(used).toHaveLength(1);
  });

  it("refuses another account's recovery code", async () => {
    const user = await createActiveUser(ctx);
    const other = await createActiveUser(ctx);
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: other.recoveryCodes[0]! } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
  });

  it("lets a user retry after a wrong code, but burns the login token at the fifth", async () => {
    const user = await createActiveUser(ctx);
    const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

    const patient = await h.loginToken(user);
    for (let i = 0; i < 4; i++) {
      await expectRpcError(
        h.client.createSession({ loginToken: patient, secondFactor: { case: "totpCode", value: wrong(await h.totp(user)) } }),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
    }
    await h.client.createSession({ loginToken: patient, secondFactor: { case: "totpCode", value: await h.totp(user) } });

    nextTotpStep(ctx);
    const burnt = await h.loginToken(user);
    for (let i = 0; i < 5; i++) {
      await expectRpcError(
        h.client.createSession({ loginToken: burnt, secondFactor: { case: "recoveryCode", value: "2222-3333-4444" } }),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
    }
    await expectRpcError(
      h.client.createSession({ loginToken: burnt, secondFactor: { case: "totpCode", value: await h.totp(user) } }),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );
    const failures = await ctx.db.selectFrom("audit_log").select("details").where("user_id", "=", user.id).where("event", "=", "login.failed").execute();
    expect(failures).toHaveLength(9);
    expect(failures.at(-1)!.details).toMatchObject({ reason: "second_factor", burnt: true, failures: 5 });
  });

  it("creates exactly one session from parallel calls with one login token", async () => {
    const user = await createActiveUser(ctx);
    const loginToken = await h.loginToken(user);
    const results = await Promise.allSettled(
      user.recoveryCodes.map((code) => h.client.createSession({ loginToken, secondFactor: { case: "recoveryCode", value: code } })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const sessions = await ctx.db.selectFrom("sessions").select("id").where("user_id", "=", user.id).execute();
    expect(sessions).toHaveLength(1);
    const spent = await ctx.db.selectFrom("recovery_codes").select("id").where("user_id", "=", user.id).where("used_at", "is not", null).execute();
    expect(spent).toHaveLength(1);
  });

  it("refuses an expired login token, and a token of another purpose", async () => {
    const user = await createActiveUser(ctx);
    const loginToken = await h.loginToken(user);
    const started = ctx.clock.now().getTime();
    ctx.clock.advance((ctx.config.tokens.loginTtlSeconds + 1) * 1000);
    await expectRpcError(
      h.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: await h.totp(user) } }),
      Code.Unauthenticated,
      "TOKEN_EXPIRED",
    );
    ctx.clock.set(started + 60 * 60_000);

    const { accessToken } = await h.login(user);
    nextTotpStep(ctx);
    await expectRpcError(
      h.client.createSession({ loginToken: accessToken, secondFactor: { case: "totpCode", value: await h.totp(user) } }),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );
    await expectRpcError(
      h.client.createSession({ loginToken: "v4.public.garbage", secondFactor: { case: "totpCode", value: await h.totp(user) } }),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );
  });

  it("refuses an account that has not finished enrollment", async () => {
    const pending = await createActiveUser(ctx, { status: "pending" });
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(pending), secondFactor: { case: "totpCode", value: await h.totp(pending) } }),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );
  });

  it("answers InvalidArgument, naming the field, for malformed input", async () => {
    const user = await createActiveUser(ctx);
    const loginToken = await h.loginToken(user);
    const cases: Array<[Parameters<typeof h.client.createSession>[0], string]> = [
      [{ loginToken, secondFactor: { case: undefined } }, "second_factor"],
      [{ loginToken, secondFactor: { case: "totpCode", value: "" } }, "totp_code"],
      [{ loginToken, secondFactor: { case: "totpCode", value: "12345" } }, "totp_code"],
      [{ loginToken, secondFactor: { case: "totpCode", value: "abcdef" } }, "totp_code"],
      [{ loginToken, secondFactor: { case: "recoveryCode", value: "not-a-code" } }, "recovery_code"],
      [{ loginToken: "", secondFactor: { case: "totpCode", value: "123456" } }, "login_token"],
      [{ loginToken, secondFactor: { case: "totpCode", value: "123456" }, deviceName: "x".repeat(101) }, "device_name"],
      [{ loginToken, secondFactor: { case: "totpCode", value: "123456" }, deviceName: "evil\u0000name" }, "device_name"],
      [{ loginToken, secondFactor: { case: "totpCode", value: "123456" }, deviceName: "phone\u202Egnp.exe" }, "device_name"],
    ];
    for (const [request, field] of cases) {
      const error = await expectRpcError(h.client.createSession(request), Code.InvalidArgument);
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual([field]);
    }
    // None of that spent the login token or counted as a wrong code.
    await h.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: await h.totp(user) }, deviceName: "📱 ".repeat(50) });
  });
});
