/**
 * The Bearer calls at rpc level: Logout (one session or all), ListSessions, RevokeSession.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import {
  bearer,
  callOptions,
  createActiveUser,
  createSessionHarness,
  expectRpcError,
  nextTotpStep,
  TEST_IP,
  TEST_USER_AGENT,
  type SessionHarness,
  type TestUser,
} from "../support/session-fixture.js";

describe("Logout, ListSessions, RevokeSession", () => {
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

  /** Several sessions of one account, one per TOTP step (a step is accepted once), a minute apart. */
  async function loginTimes(user: TestUser, devices: string[]) {
    const sessions = [];
    for (const device of devices) {
      sessions.push(await h.login(user, device));
      nextTotpStep(ctx);
      ctx.clock.advance(30_000);
    }
    return sessions;
  }

  it("Logout ends the calling session only, and is audited", async () => {
    const user = await createActiveUser(ctx);
    const [laptop, phone] = await loginTimes(user, ["laptop", "phone"]);
    await h.client.logout({}, bearer(laptop!.accessToken));
    await expectRpcError(h.client.verifySession({ accessToken: laptop!.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    await h.client.verifySession({ accessToken: phone!.accessToken });
    // A second logout with the same token: it no longer authenticates.
    await expectRpcError(h.client.logout({}, bearer(laptop!.accessToken)), Code.Unauthenticated, "TOKEN_REVOKED");

    const row = await ctx.db.selectFrom("sessions").selectAll().where("id", "=", laptop!.sessionId).executeTakeFirstOrThrow();
    expect(row.revoked_reason).toBe("logout");
    const audit = await ctx.db.selectFrom("audit_log").selectAll().where("event", "=", "session.logged_out").where("user_id", "=", user.id).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ session_id: laptop!.sessionId, ip: TEST_IP, user_agent: TEST_USER_AGENT, details: { all_sessions: false, sessions_ended: 1, devices_revoked: 0 } });
  });

  it("Logout with all_sessions ends every session of the account, and no one else's", async () => {
    const user = await createActiveUser(ctx);
    const bystander = await createActiveUser(ctx);
    const theirs = await h.login(bystander);
    const mine = await loginTimes(user, ["a", "b", "c"]);
    await h.client.logout({ allSessions: true }, bearer(mine[1]!.accessToken));
    for (const s of mine) {
      await expectRpcError(h.client.verifySession({ accessToken: s.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
      await expectRpcError(h.client.refreshSession({ refreshToken: s.refreshToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    }
    await h.client.verifySession({ accessToken: theirs.accessToken });
    const audit = await ctx.db.selectFrom("audit_log").select("details").where("event", "=", "session.logged_out").where("user_id", "=", user.id).execute();
    expect(audit.map((a) => a.details)).toEqual([{ all_sessions: true, sessions_ended: 3, devices_revoked: 3 }]);
    // The account's device credentials went with them; the bystander's did not.
    const devices = await ctx.db.selectFrom("device_credentials").select(["user_id", "revoked_at"]).where("user_id", "in", [user.id, bystander.id]).execute();
    expect(devices.filter((d) => d.user_id === user.id).map((d) => d.revoked_at !== null)).toEqual([true, true, true]);
    expect(devices.filter((d) => d.user_id === bystander.id).map((d) => d.revoked_at)).toEqual([null]);
  });

  it("ListSessions lists the live sessions newest first with the caller's marked current", async () => {
    const user = await createActiveUser(ctx);
    const [first, second, third] = await loginTimes(user, ["first", "second", "third"]);
    await h.client.logout({}, bearer(third!.accessToken));
    const { sessions } = await h.client.listSessions({}, bearer(first!.accessToken));
    expect(sessions.map((s) => [s.deviceName, s.current])).toEqual([
      ["second", false],
      ["first", true],
    ]);
    expect(sessions[0]).toMatchObject({ sessionId: second!.sessionId, userId: user.id, username: user.username });
  });

  it("RevokeSession ends another of the caller's sessions", async () => {
    const user = await createActiveUser(ctx);
    const [mine, lost] = await loginTimes(user, ["desk", "lost phone"]);
    await h.client.revokeSession({ sessionId: lost!.sessionId }, bearer(mine!.accessToken));
    await expectRpcError(h.client.verifySession({ accessToken: lost!.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    await h.client.verifySession({ accessToken: mine!.accessToken });
    const { sessions } = await h.client.listSessions({}, bearer(mine!.accessToken));
    expect(sessions.map((s) => s.sessionId)).toEqual([mine!.sessionId]);
    const audit = await ctx.db.selectFrom("audit_log").selectAll().where("event", "=", "session.revoked").where("session_id", "=", lost!.sessionId).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ user_id: user.id, ip: TEST_IP, details: { by_session: mine!.sessionId } });
  });

  it("RevokeSession answers NotFound alike for another account's session, an unknown one and an ended one", async () => {
    const user = await createActiveUser(ctx);
    const other = await createActiveUser(ctx);
    const mine = await h.login(user);
    const theirs = await h.login(other);
    const answers = [];
    for (const sessionId of [theirs.sessionId, randomUUID()]) {
      const error = await expectRpcError(h.client.revokeSession({ sessionId }, bearer(mine.accessToken)), Code.NotFound);
      answers.push(error.rawMessage);
    }
    expect(new Set(answers).size).toBe(1);
    // The other account's session is untouched.
    await h.client.verifySession({ accessToken: theirs.accessToken });
    nextTotpStep(ctx);
    const ended = await h.login(user);
    await h.client.logout({}, bearer(ended.accessToken));
    await expectRpcError(h.client.revokeSession({ sessionId: ended.sessionId }, bearer(mine.accessToken)), Code.NotFound);
  });

  it("RevokeSession answers InvalidArgument for a malformed session id", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    for (const sessionId of ["", "not-a-uuid", "'; drop table sessions; --"]) {
      const error = await expectRpcError(h.client.revokeSession({ sessionId }, bearer(accessToken)), Code.InvalidArgument);
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("session_id");
    }
  });

  it("refuses the Bearer calls without a valid access token", async () => {
    const user = await createActiveUser(ctx);
    const { refreshToken, sessionId } = await h.login(user);
    // Each call is made only when awaited: one answered earlier would be an unhandled rejection.
    const calls = (options: ReturnType<typeof callOptions>) => [
      () => h.client.logout({}, options),
      () => h.client.listSessions({}, options),
      () => h.client.revokeSession({ sessionId }, options),
    ];
    for (const options of [callOptions(), bearer(refreshToken), bearer("v4.public.nope"), callOptions({ authorization: "Basic dXNlcjpwYXNz" })]) {
      for (const call of calls(options)) await expectRpcError(call(), Code.Unauthenticated, "TOKEN_INVALID");
    }
    // The session survived all of that.
    const row = await ctx.db.selectFrom("sessions").select("revoked_at").where("id", "=", sessionId).executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeNull();
  });
});
