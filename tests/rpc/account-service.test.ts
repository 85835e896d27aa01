/**
 * AccountService at rpc level: step-up (Reauthenticate and the reauth token's every refusal),
 * password change with the real OPAQUE client, authenticator replacement, recovery-code
 * regeneration, deletion, GetAccount, malformed input, and the two seams.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { totpCodeAt } from "../../server/auth/totp.js";
import { latestRevocationSeq, revocationsAfter } from "../../server/session/revocation-log.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { bearer, callOptions, createActiveUser, expectRpcError, nextTotpStep, type TestUser } from "../support/session-fixture.js";
import { ADMIN_KEY, changePassword, createAccountHarness, opaqueLoginToken, TEST_MEM_HARD, type AccountHarness } from "../support/account-fixture.js";
import { enroll, register } from "./auth-helpers.js";

describe("AccountService", () => {
  let ctx: TestContext;
  let h: AccountHarness;

  beforeAll(async () => {
    ctx = await createTestContext({ env: { OPAQUE_WORKER_THREADS: "1", ADMIN_API_KEYS: ADMIN_KEY } });
    h = await createAccountHarness(ctx);
  });
  afterAll(async () => {
    await h?.close();
    await ctx?.close();
  });

  const totpNow = (user: TestUser) => totpCodeAt(user.totpSecret, ctx.clock.now());

  /** A registered, enrolled account with a real OPAQUE record, and a session from a real login. */
  async function realUser(password: string) {
    const username = `real-${randomBytes(4).toString("hex")}`;
    const { enrollmentToken, serverIdentity } = await register(h.auth, username, password, { memHard: TEST_MEM_HARD });
    const { secret, recoveryCodes } = await enroll(h.auth, enrollmentToken, ctx.clock.now());
    const { id } = await ctx.db.selectFrom("users").select("id").where("username", "=", username).executeTakeFirstOrThrow();
    const user: TestUser = { id, username, totpSecret: secret, recoveryCodes };
    return { user, serverIdentity };
  }

  async function sessionWithPassword(user: TestUser, password: string) {
    const loginToken = await opaqueLoginToken(h.auth, user.username, password);
    if (loginToken === null) throw new Error("login failed");
    nextTotpStep(ctx);
    const res = await h.session.createSession({ loginToken, secondFactor: { case: "totpCode", value: await totpNow(user) }, deviceName: "d" }, callOptions());
    return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken };
  }

  it("GetAccount describes the caller's account", async () => {
    const user = await createActiveUser(ctx);
    const s = await h.login(user);
    const { account } = await h.account.getAccount({}, bearer(s.accessToken));
    expect(account).toMatchObject({ userId: user.id, username: user.username, recoveryCodesRemaining: 10 });
    expect(account!.passwordChangedAt).toBeUndefined();
    expect(account!.totpEnrolledAt).toBeDefined();
    expect(account!.createdAt).toBeDefined();
  });

  it("every RPC needs a live session's Bearer token", async () => {
    const user = await createActiveUser(ctx);
    const s = await h.login(user);
    // Each call is made only when awaited: one answered earlier would be an unhandled rejection.
    const calls = (opts: ReturnType<typeof callOptions>) => [
      () => h.account.getAccount({}, opts),
      () => h.account.reauthenticate({ loginToken: "x", secondFactor: { case: "totpCode", value: "123456" } }, opts),
      () => h.account.changePasswordInit({ reauthToken: "x", registrationRequest: new Uint8Array(33) }, opts),
      () => h.account.changePasswordFinish({ reauthToken: "x", registrationRecord: new Uint8Array(129) }, opts),
      () => h.account.replaceTotpInit({ reauthToken: "x" }, opts),
      () => h.account.replaceTotpFinish({ reauthToken: "x", code: "123456" }, opts),
      () => h.account.regenerateRecoveryCodes({ reauthToken: "x" }, opts),
      () => h.account.deleteAccount({ reauthToken: "x" }, opts),
    ];
    for (const call of calls(callOptions())) await expectRpcError(call(), Code.Unauthenticated, "TOKEN_INVALID");
    await h.session.logout({}, bearer(s.accessToken));
    for (const call of calls(bearer(s.accessToken))) await expectRpcError(call(), Code.Unauthenticated, "TOKEN_REVOKED");
  });

  describe("Reauthenticate", () => {
    it("issues a reauth token for a login token of the caller and a TOTP code, spending both", async () => {
      const user = await createActiveUser(ctx);
      const s = await h.login(user);
      nextTotpStep(ctx);
      const loginToken = await h.loginToken(user);
      const code = await totpNow(user);
      const res = await h.account.reauthenticate({ loginToken, secondFactor: { case: "totpCode", value: code } }, bearer(s.accessToken));
      expect(res.reauthToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(timestampDate(res.reauthTokenExpiresAt!).getTime() - ctx.clock.now().getTime()).toBe(300_000);
      // The login token is single use, here and at CreateSession; the TOTP step too.
      await expectRpcError(
        h.account.reauthenticate({ loginToken, secondFactor: { case: "totpCode", value: code } }, bearer(s.accessToken)),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );
      await expectRpcError(
        h.session.createSession({ loginToken, secondFactor: { case: "totpCode", value: code } }, callOptions()),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );
      await expectRpcError(
        h.account.reauthenticate({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: code } }, bearer(s.accessToken)),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
      // Only the hash is stored.
      const rows = await ctx.db.selectFrom("reauth_tokens").selectAll().where("user_id", "=", user.id).execute();
      expect(rows).toHaveLength(1);
      expect(Buffer.from(rows[0]!.token_hash).toString("base64url")).not.toBe(res.reauthToken);
      const audit = await ctx.db.selectFrom("audit_log").select(["event", "session_id"]).where("user_id", "=", user.id).where("event", "like", "account.%").execute();
      expect(audit.map((a) => a.event)).toEqual(["account.reauthenticated", "account.reauthentication_failed"]);
    });

    it("accepts a recovery code (spent) instead of a TOTP code", async () => {
      const user = await createActiveUser(ctx);
      const s = await h.login(user);
      const code = user.recoveryCodes[0]!;
      await h.account.reauthenticate({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: code } }, bearer(s.accessToken));
      await expectRpcError(
        h.account.reauthenticate({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: code } }, bearer(s.accessToken)),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
      const { account } = await h.account.getAccount({}, bearer(s.accessToken));
      expect(account!.recoveryCodesRemaining).toBe(9);
    });

    it("refuses a login token of another account", async () => {
      const user = await createActiveUser(ctx);
      const other = await createActiveUser(ctx);
      const s = await h.login(user);
      nextTotpStep(ctx);
      await expectRpcError(
        h.account.reauthenticate({ loginToken: await h.loginToken(other), secondFactor: { case: "totpCode", value: await totpNow(other) } }, bearer(s.accessToken)),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );
    });

    it("counts a wrong code through the second-factor cap, and obeys the cap", async () => {
      const user = await createActiveUser(ctx);
      const s = await h.login(user);
      await expectRpcError(
        h.account.reauthenticate({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: "000000" === (await totpNow(user)) ? "111111" : "000000" } }, bearer(s.accessToken)),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
      expect(h.seamCalls.filter((c) => c.userId === user.id).map((c) => c.seam)).toEqual(["check", "recordFailure"]);
      h.capped.add(user.id);
      nextTotpStep(ctx);
      await expectRpcError(
        h.account.reauthenticate({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await totpNow(user) } }, bearer(s.accessToken)),
        Code.ResourceExhausted,
      );
      h.capped.delete(user.id);
    });

    it("answers malformed input with InvalidArgument and BadRequest", async () => {
      const user = await createActiveUser(ctx);
      const s = await h.login(user);
      const e1 = await expectRpcError(h.account.reauthenticate({ loginToken: "", secondFactor: { case: "totpCode", value: "123456" } }, bearer(s.accessToken)), Code.InvalidArgument);
      expect(e1.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!.field).toBe("login_token");
      const e2 = await expectRpcError(h.account.reauthenticate({ loginToken: "x" }, bearer(s.accessToken)), Code.InvalidArgument);
      expect(e2.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!.field).toBe("second_factor");
    });
  });

  describe("the reauth token", () => {
    it("is refused when made up, malformed, expired, spent, of another session or of another account; empty is InvalidArgument", async () => {
      const user = await createActiveUser(ctx);
      const other = await createActiveUser(ctx);
      const mine = await h.login(user, "mine");
      const second = await h.login(user, "second");
      const theirs = await h.login(other);
      const regen = (token: string, access = mine.accessToken) => h.account.regenerateRecoveryCodes({ reauthToken: token }, bearer(access));

      await expectRpcError(regen(randomBytes(32).toString("base64url")), Code.Unauthenticated, "TOKEN_INVALID");
      await expectRpcError(regen("not a token"), Code.Unauthenticated, "TOKEN_INVALID");
      const e = await expectRpcError(regen(""), Code.InvalidArgument);
      expect(e.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!.field).toBe("reauth_token");

      const token = await h.reauth(user, mine.accessToken);
      await expectRpcError(regen(token, second.accessToken), Code.Unauthenticated, "TOKEN_INVALID");
      await expectRpcError(regen(token, theirs.accessToken), Code.Unauthenticated, "TOKEN_INVALID");
      await expectRpcError(h.account.replaceTotpInit({ reauthToken: token }, bearer(second.accessToken)), Code.Unauthenticated, "TOKEN_INVALID");
      await regen(token);
      await expectRpcError(regen(token), Code.Unauthenticated, "TOKEN_REUSED");
      await expectRpcError(h.account.deleteAccount({ reauthToken: token }, bearer(mine.accessToken)), Code.Unauthenticated, "TOKEN_REUSED");

      const late = await h.reauth(user, mine.accessToken);
      ctx.clock.advance(300_000);
      await expectRpcError(regen(late), Code.Unauthenticated, "TOKEN_EXPIRED");
      await expectRpcError(h.account.replaceTotpInit({ reauthToken: late }, bearer(mine.accessToken)), Code.Unauthenticated, "TOKEN_EXPIRED");
    });

    it("is not burnt by a change refused for malformed input, and only one of two racing changes spends it", async () => {
      const user = await createActiveUser(ctx);
      const s = await h.login(user);
      const token = await h.reauth(user, s.accessToken);
      const bad = await expectRpcError(
        h.account.changePasswordFinish({ reauthToken: token, registrationRecord: new Uint8Array(12) }, bearer(s.accessToken)),
        Code.InvalidArgument,
      );
      expect(bad.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!.field).toBe("registration_record");
      await expectRpcError(h.account.replaceTotpFinish({ reauthToken: token, code: "12" }, bearer(s.accessToken)), Code.InvalidArgument);
      // 33 bytes that are not a P-256 point: refused before any OPAQUE work.
      const notAPoint = await expectRpcError(
        h.account.changePasswordInit({ reauthToken: token, registrationRequest: new Uint8Array(33).fill(0xff) }, bearer(s.accessToken)),
        Code.InvalidArgument,
      );
      expect(notAPoint.findDetails(BadRequestSchema)[0]!.fieldViolations[0]!.field).toBe("registration_request");
      const results = await Promise.allSettled([
        h.account.regenerateRecoveryCodes({ reauthToken: token }, bearer(s.accessToken)),
        h.account.regenerateRecoveryCodes({ reauthToken: token }, bearer(s.accessToken)),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      const codes = await ctx.db.selectFrom("recovery_codes").select("id").where("user_id", "=", user.id).execute();
      expect(codes).toHaveLength(10);
    });
  });

  it("RegenerateRecoveryCodes: the old codes stop working, the new ones work, once", async () => {
    const user = await createActiveUser(ctx);
    const s = await h.login(user);
    const token = await h.reauth(user, s.accessToken);
    const { recoveryCodes } = await h.account.regenerateRecoveryCodes({ reauthToken: token }, bearer(s.accessToken));
    expect(recoveryCodes).toHaveLength(10);
    expect(recoveryCodes.some((c) => user.recoveryCodes.includes(c))).toBe(false);
    await expectRpcError(
      h.session.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: user.recoveryCodes[1]! } }, callOptions()),
      Code.Unauthenticated,
      "SECOND_FACTOR_INVALID",
    );
    await h.session.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: recoveryCodes[0]! } }, callOptions());
    const { account } = await h.account.getAccount({}, bearer(s.accessToken));
    expect(account!.recoveryCodesRemaining).toBe(9);
    const audit = await ctx.db.selectFrom("audit_log").select("details").where("user_id", "=", user.id).where("event", "=", "account.recovery_codes_regenerated").execute();
    expect(audit.map((a) => a.details)).toEqual([{ replaced: 10, issued: 10 }]);
  });

  describe("ReplaceTotp", () => {
    it("the old authenticator works until the new one is confirmed, and is refused after", async () => {
      const user = await createActiveUser(ctx);
      const s = await h.login(user);
      const token = await h.reauth(user, s.accessToken);
      await expectRpcError(h.account.replaceTotpFinish({ reauthToken: token, code: "123456" }, bearer(s.accessToken)), Code.FailedPrecondition);
      const init = await h.account.replaceTotpInit({ reauthToken: token }, bearer(s.accessToken));
      expect(init.otpauthUri).toContain(`secret=${init.secret}`);
      expect(Buffer.from(init.qrCodePng.subarray(0, 8)).toString("hex")).toBe("89504e470d0a1a0a");
      const stored = await ctx.db.selectFrom("users").select(["totp_pending_secret_encrypted"]).where("id", "=", user.id).executeTakeFirstOrThrow();
      expect(Buffer.from(stored.totp_pending_secret_encrypted!).includes(Buffer.from(init.secret))).toBe(false);

      // Still the old one at login.
      await h.login(user);
      const newUser: TestUser = { ...user, totpSecret: init.secret };
      nextTotpStep(ctx);
      const newCode = await totpNow(newUser);
      const oldCode = await totpNow(user);
      h.seamCalls.length = 0;
      await expectRpcError(h.account.replaceTotpFinish({ reauthToken: token, code: oldCode }, bearer(s.accessToken)), Code.Unauthenticated, "SECOND_FACTOR_INVALID");
      expect(h.seamCalls).toEqual([{ seam: "check", userId: user.id }, { seam: "recordFailure", userId: user.id }]);
      await h.account.replaceTotpFinish({ reauthToken: token, code: newCode }, bearer(s.accessToken));
      await expectRpcError(h.account.replaceTotpInit({ reauthToken: token }, bearer(s.accessToken)), Code.Unauthenticated, "TOKEN_REUSED");

      // The confirming code does not also log in; the old authenticator is refused.
      await expectRpcError(
        h.session.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: newCode } }, callOptions()),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
      nextTotpStep(ctx);
      await expectRpcError(
        h.session.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await totpNow(user) } }, callOptions()),
        Code.Unauthenticated,
        "SECOND_FACTOR_INVALID",
      );
      await h.session.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await totpNow(newUser) } }, callOptions());
      const { account } = await h.account.getAccount({}, bearer(s.accessToken));
      expect(timestampDate(account!.totpEnrolledAt!).getTime()).toBeGreaterThan(timestampDate(account!.createdAt!).getTime());
    });
  });

  describe("ChangePassword (real OPAQUE client)", () => {
    it("the old password is refused, the new one works, other sessions end, the caller's stays", { timeout: 60_000 }, async () => {
      const { user, serverIdentity } = await realUser("old password 1");
      const other = await sessionWithPassword(user, "old password 1");
      const mine = await sessionWithPassword(user, "old password 1");
      const staleLoginToken = await opaqueLoginToken(h.auth, user.username, "old password 1");
      ctx.clock.advance(1_000);
      h.seamCalls.length = 0;
      const reauthToken = await h.reauth(user, mine.accessToken);
      await changePassword(h.account, mine.accessToken, { reauthToken, username: user.username, newPassword: "new password 2", serverIdentity });
      expect(h.seamCalls).toContainEqual({ seam: "revokeDeviceCredentials", userId: user.id });

      expect(await opaqueLoginToken(h.auth, user.username, "old password 1")).toBeNull();
      expect(await opaqueLoginToken(h.auth, user.username, "new password 2")).not.toBeNull();
      // A login token obtained with the old password before the change is no proof any more.
      nextTotpStep(ctx);
      await expectRpcError(
        h.session.createSession({ loginToken: staleLoginToken!, secondFactor: { case: "totpCode", value: await totpNow(user) } }, callOptions()),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );
      await expectRpcError(h.session.verifySession({ accessToken: other.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
      await h.session.verifySession({ accessToken: mine.accessToken });
      await sessionWithPassword(user, "new password 2");

      const row = await ctx.db.selectFrom("sessions").select(["revoked_reason", "revocation_seq"]).where("id", "=", other.sessionId).executeTakeFirstOrThrow();
      expect(row.revoked_reason).toBe("password_changed");
      expect(row.revocation_seq).not.toBeNull();
      const { account } = await h.account.getAccount({}, bearer(mine.accessToken));
      expect(account!.passwordChangedAt).toBeDefined();
      const audit = await ctx.db.selectFrom("audit_log").select("details").where("user_id", "=", user.id).where("event", "=", "account.password_changed").execute();
      expect(audit.map((a) => a.details)).toEqual([{ kept_other_sessions: false, sessions_ended: 1 }]);
      // Spent.
      await expectRpcError(
        h.account.changePasswordInit({ reauthToken, registrationRequest: new Uint8Array(33).fill(2) }, bearer(mine.accessToken)),
        Code.Unauthenticated,
        "TOKEN_REUSED",
      );
    });

    it("keep_other_sessions keeps them", { timeout: 60_000 }, async () => {
      const { user, serverIdentity } = await realUser("first password");
      const other = await sessionWithPassword(user, "first password");
      const mine = await sessionWithPassword(user, "first password");
      const othersToken = await h.reauth(user, other.accessToken);
      const reauthToken = await h.reauth(user, mine.accessToken);
      await changePassword(h.account, mine.accessToken, { reauthToken, username: user.username, newPassword: "second password", serverIdentity, keepOtherSessions: true });
      await h.session.verifySession({ accessToken: other.accessToken });
      // The other session's step-up was proven with the old password: gone with it.
      await expectRpcError(h.account.regenerateRecoveryCodes({ reauthToken: othersToken }, bearer(other.accessToken)), Code.Unauthenticated, "TOKEN_INVALID");
      expect(await opaqueLoginToken(h.auth, user.username, "first password")).toBeNull();
    });
  });

  describe("DeleteAccount", () => {
    it("changes nothing when a step fails half-way (one transaction)", async () => {
      const user = await createActiveUser(ctx);
      const a = await h.login(user, "a");
      const b = await h.login(user, "b");
      const token = await h.reauth(user, a.accessToken);
      // The row's removal, after the sessions were revoked and the trail rewritten, fails.
      await sql`create or replace function refuse_row_removal() returns trigger language plpgsql as $$ begin raise exception 'refused (test)'; end $$`.execute(ctx.db);
      await sql.raw(`create trigger refuse_removal before delete on users for each row when (old.id = '${user.id}') execute function refuse_row_removal()`).execute(ctx.db);
      try {
        await expectRpcError(h.account.deleteAccount({ reauthToken: token }, bearer(a.accessToken)), Code.Internal);
      } finally {
        await sql`drop trigger refuse_removal on users`.execute(ctx.db);
      }
      for (const s of [a, b]) await h.session.verifySession({ accessToken: s.accessToken });
      const row = await ctx.db.selectFrom("users").select(["status", "username"]).where("id", "=", user.id).executeTakeFirstOrThrow();
      expect(row).toEqual({ status: "active", username: user.username });
      expect(await ctx.db.selectFrom("recovery_codes").select("id").where("user_id", "=", user.id).execute()).toHaveLength(10);
      const sessions = await ctx.db.selectFrom("sessions").select(["revoked_at", "device_name"]).where("user_id", "=", user.id).orderBy("device_name").execute();
      expect(sessions).toEqual([{ revoked_at: null, device_name: "a" }, { revoked_at: null, device_name: "b" }]);
      expect(await ctx.db.selectFrom("audit_log").select("id").where("user_id", "=", user.id).where("username", "=", user.username).execute()).not.toEqual([]);
      // The reauth token was not spent either: the retry succeeds.
      await h.account.deleteAccount({ reauthToken: token }, bearer(a.accessToken));
      await expectRpcError(h.session.verifySession({ accessToken: b.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    });

    /**
     * What a deletion leaves, whichever entry point made it: every session refused (VerifySession,
     * RefreshSession as after a log-out, Bearer calls), no second login, the row and every secret
     * gone, the revoked sessions kept for WatchRevocations, the trail without the username, the
     * name free for a new account.
     */
    async function expectDeleted(
      user: TestUser,
      cursor: bigint,
      sessions: Array<{ sessionId: string; accessToken: string; refreshToken: string }>,
      deletedEntry: Record<string, unknown>,
    ) {
      for (const s of sessions) {
        await expectRpcError(h.session.verifySession({ accessToken: s.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
        await expectRpcError(h.session.refreshSession({ refreshToken: s.refreshToken }), Code.Unauthenticated, "TOKEN_REVOKED");
        await expectRpcError(h.account.getAccount({}, bearer(s.accessToken)), Code.Unauthenticated, "TOKEN_REVOKED");
      }
      nextTotpStep(ctx);
      await expectRpcError(
        h.session.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await totpNow(user) } }, callOptions()),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );

      // The row is gone, and with it the OPAQUE record, both TOTP secrets, recovery codes, device
      // credentials and reauth tokens.
      expect(await ctx.db.selectFrom("users").select("id").where("id", "=", user.id).execute()).toEqual([]);
      for (const table of ["recovery_codes", "device_credentials", "reauth_tokens"] as const) {
        expect(await ctx.db.selectFrom(table).select("user_id").where("user_id", "=", user.id).execute()).toEqual([]);
      }
      // The revoked sessions stay, numbered in one transaction, for WatchRevocations, without their device names.
      const rows = await ctx.db.selectFrom("sessions").select(["id", "revoked_reason", "revocation_seq", "device_name"]).where("user_id", "=", user.id).execute();
      expect(rows.map((r) => r.id).sort()).toEqual(sessions.map((s) => s.sessionId).sort());
      for (const r of rows) expect(r).toMatchObject({ revoked_reason: "account_deleted", revocation_seq: rows[0]!.revocation_seq, device_name: "" });
      expect(rows[0]!.revocation_seq).toEqual(expect.any(String));
      // A backend resuming from a cursor taken before the deletion hears of every session.
      const { events } = await revocationsAfter(ctx.db, { afterSeq: cursor, revokedSince: new Date(0) });
      expect(events.flatMap((e) => e.sessionIds).sort()).toEqual(sessions.map((s) => s.sessionId).sort());
      // Audit entries keep the user id, not the username.
      const audit = await ctx.db.selectFrom("audit_log").select(["event", "username", "session_id", "details"]).where("user_id", "=", user.id).execute();
      expect(audit.length).toBeGreaterThan(2);
      expect(audit.every((e) => e.username === null)).toBe(true);
      // Nor the device names the owner typed (session.created recorded them).
      expect(audit.some((e) => e.event === "session.created")).toBe(true);
      expect(audit.every((e) => !("device_name" in (e.details as object)))).toBe(true);
      expect(audit.find((e) => e.event === "account.deleted")).toMatchObject(deletedEntry);
      expect(await ctx.db.selectFrom("audit_log").select("id").where("username", "=", user.username).execute()).toEqual([]);

      // Anyone may now register the name, as a new account.
      const again = await register(h.auth, user.username, "someone else", { memHard: TEST_MEM_HARD });
      const { secret } = await enroll(h.auth, again.enrollmentToken, ctx.clock.now());
      expect(secret).not.toBe(user.totpSecret);
      const fresh = await ctx.db.selectFrom("users").select(["id", "status"]).where("username", "=", user.username).executeTakeFirstOrThrow();
      expect(fresh.id).not.toBe(user.id);
      expect(fresh.status).toBe("active");
    }

    /** An account with two sessions, a reauth token each, a pending TOTP secret: something of every kind to remove. */
    async function accountToDelete() {
      const user = await createActiveUser(ctx);
      const a = await h.login(user, "a");
      const b = await h.login(user, "b");
      const token = await h.reauth(user, a.accessToken);
      await h.reauth(user, b.accessToken);
      await ctx.db.updateTable("users").set({ totp_pending_secret_encrypted: new Uint8Array(40) }).where("id", "=", user.id).execute();
      for (const table of ["recovery_codes", "device_credentials", "reauth_tokens"] as const) {
        expect(await ctx.db.selectFrom(table).select("user_id").where("user_id", "=", user.id).execute()).not.toEqual([]);
      }
      return { user, a, b, token, cursor: await latestRevocationSeq(ctx.db) };
    }

    it("DeleteAccount (the owner) ends every session, removes the account with its secrets, keeps the sessions for WatchRevocations, and frees the username", async () => {
      const { user, a, b, token, cursor } = await accountToDelete();
      await h.account.deleteAccount({ reauthToken: token }, bearer(a.accessToken));
      await expectDeleted(user, cursor, [a, b], { session_id: a.sessionId, details: { by: "owner", sessions_ended: 2 } });
    });

    it("DeleteUser (an operator) is the same deletion", async () => {
      const { user, a, b, cursor } = await accountToDelete();
      await h.admin.deleteUser({ userId: user.id }, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      await expectDeleted(user, cursor, [a, b], { session_id: null, details: { by: "operator", sessions_ended: 2 } });
      await expectRpcError(h.admin.deleteUser({ userId: user.id }, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }), Code.NotFound);
    });
  });
});
