/**
 * WatchRevocations on one instance with the in-process defaults (PGlite, in-process KV): what a
 * backend following revocations sees. Catch-up of everything recent, then a `caught_up` marker,
 * then live revocations, each once, in commit order; resuming from a cursor; bad cursors.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code } from "@connectrpc/connect";
import { bearer, createActiveUser, createSessionHarness, expectRpcError, nextTotpStep, type SessionHarness } from "../support/session-fixture.js";
import { followRevocations } from "../support/follow-revocations.js";
import { createTestContext, type TestContext } from "../support/test-context.js";


describe("WatchRevocations (in-process defaults)", () => {
  let ctx: TestContext;
  let h: SessionHarness;

  beforeAll(async () => {
    ctx = await createTestContext();
    h = await createSessionHarness(ctx);
  });
  afterAll(async () => {
    await h.close();
    await ctx.close();
  });

  /** A fresh session, logged out; returns its id. */
  async function revokedSession(): Promise<string> {
    const { sessionId, accessToken } = await h.login(await createActiveUser(ctx));
    await h.client.logout({}, bearer(accessToken));
    return sessionId;
  }

  it("sends recent revocations, then caught_up, then each new revocation as it happens, each once", async () => {
    const before = [await revokedSession(), await revokedSession()];
    const watch = followRevocations(h);
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    expect(watch.ids()).toEqual(expect.arrayContaining(before));
    const catchUp = watch.ids().length;

    const after = [await revokedSession(), await revokedSession(), await revokedSession()];
    await vi.waitFor(() => expect(watch.ids().slice(catchUp)).toEqual(after));
    // Cursors grow, one response per revoking transaction, each with its time.
    const live = watch.received.slice(-3);
    expect(live.every((r) => r.revokedAt !== undefined && !r.caughtUp)).toBe(true);
    const numbers = watch.received.filter((r) => !r.caughtUp).map((r) => BigInt(r.cursor.slice("rv1.".length)));
    expect([...numbers].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(numbers);
    expect(new Set(watch.ids()).size).toBe(watch.ids().length);
    await watch.stop();
  });

  it("resumes from a cursor: what was revoked while away arrives, nothing before it again", async () => {
    const first = followRevocations(h);
    await vi.waitFor(() => expect(first.caughtUp()).toBe(true));
    const seen = await revokedSession();
    await vi.waitFor(() => expect(first.ids()).toContain(seen));
    const cursor = first.lastCursor();
    await first.stop();

    const missed = [await revokedSession(), await revokedSession()];
    const resumed = followRevocations(h, cursor);
    await vi.waitFor(() => expect(resumed.caughtUp()).toBe(true));
    expect(resumed.ids()).toEqual(missed);
    // The marker carries the resume point too.
    expect(resumed.received.find((r) => r.caughtUp)!.cursor).not.toBe("");
    await resumed.stop();
  });

  it("sends one response for the sessions one Logout(all_sessions) ended", async () => {
    const user = await createActiveUser(ctx);
    const sessions: Array<{ sessionId: string; accessToken: string }> = [];
    for (const device of ["a", "b", "c"]) {
      nextTotpStep(ctx);
      sessions.push(await h.login(user, device));
    }
    const watch = followRevocations(h);
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    await h.client.logout({ allSessions: true }, bearer(sessions[0]!.accessToken));
    await vi.waitFor(() => expect(watch.received.at(-1)?.sessionIds.length).toBe(3));
    expect([...watch.received.at(-1)!.sessionIds].sort()).toEqual(sessions.map((s) => s.sessionId).sort());
    await watch.stop();
  });

  it("delivers every revocation exactly once while many happen during the catch-up", async () => {
    const logins: Array<{ sessionId: string; accessToken: string }> = [];
    for (let i = 0; i < 12; i++) logins.push(await h.login(await createActiveUser(ctx)));
    const watch = followRevocations(h);
    await Promise.all(logins.map((l) => h.client.logout({}, bearer(l.accessToken))));
    await vi.waitFor(() => expect(watch.ids()).toEqual(expect.arrayContaining(logins.map((l) => l.sessionId))));
    expect(new Set(watch.ids()).size).toBe(watch.ids().length);
    await watch.stop();
  });

  it("does not replay revocations older than the access-token lifetime (their tokens have expired)", async () => {
    const old = await revokedSession();
    ctx.clock.advance(ctx.config.tokens.accessTtlSeconds * 1000 + 61_000);
    const recent = await revokedSession();
    const watch = followRevocations(h);
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    expect(watch.ids()).toContain(recent);
    expect(watch.ids()).not.toContain(old);
    await watch.stop();
  });

  it("refuses a malformed cursor, and starts over from a cursor ahead of the log", async () => {
    for (const cursor of ["nope", "rv1.", "rv1.-4", "rv1.99999999999999999999"]) {
      await expectRpcError(
        (async () => {
          for await (const _ of h.client.watchRevocations({ cursor })) break;
        })(),
        Code.InvalidArgument,
      );
    }
    const recent = await revokedSession();
    const watch = followRevocations(h, "rv1.9000000000");
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    expect(watch.ids()).toContain(recent);
    await watch.stop();
  });

  it("ends open streams normally when the server shuts down", async () => {
    const watch = followRevocations(h);
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    h.module.endStreams();
    await expect(watch.done).resolves.toBeUndefined();
  });
});
