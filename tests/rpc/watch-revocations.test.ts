/**
 * WatchRevocations on one instance with the in-process defaults (PGlite, in-process KV). On the
 * internal port, what a backend following revocations sees: catch-up of everything recent, then a
 * `caught_up` marker, then live revocations, each once, in commit order; resuming from a cursor;
 * bad cursors. On the public port: only with a Bearer access token, only the caller's own
 * account's sessions, within the per-account and per-address stream caps.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code } from "@connectrpc/connect";
import { bearer, createActiveUser, createSessionHarness, expectRpcError, nextTotpStep, type SessionHarness } from "../support/session-fixture.js";
import { followRevocations } from "../support/follow-revocations.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { retryDelayMsOf } from "./auth-helpers.js";


/** The internal port's view, every account's revocations: what a backend sees. */
const backend = (h: SessionHarness) => ({ client: h.internalClient });

describe("WatchRevocations on the internal port (in-process defaults)", () => {
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
    const watch = followRevocations(backend(h));
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
    const first = followRevocations(backend(h));
    await vi.waitFor(() => expect(first.caughtUp()).toBe(true));
    const seen = await revokedSession();
    await vi.waitFor(() => expect(first.ids()).toContain(seen));
    const cursor = first.lastCursor();
    await first.stop();

    const missed = [await revokedSession(), await revokedSession()];
    const resumed = followRevocations(backend(h), cursor);
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
    const watch = followRevocations(backend(h));
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    await h.client.logout({ allSessions: true }, bearer(sessions[0]!.accessToken));
    await vi.waitFor(() => expect(watch.received.at(-1)?.sessionIds.length).toBe(3));
    expect([...watch.received.at(-1)!.sessionIds].sort()).toEqual(sessions.map((s) => s.sessionId).sort());
    await watch.stop();
  });

  it("delivers every revocation exactly once while many happen during the catch-up", async () => {
    const logins: Array<{ sessionId: string; accessToken: string }> = [];
    for (let i = 0; i < 12; i++) logins.push(await h.login(await createActiveUser(ctx)));
    const watch = followRevocations(backend(h));
    await Promise.all(logins.map((l) => h.client.logout({}, bearer(l.accessToken))));
    await vi.waitFor(() => expect(watch.ids()).toEqual(expect.arrayContaining(logins.map((l) => l.sessionId))));
    expect(new Set(watch.ids()).size).toBe(watch.ids().length);
    await watch.stop();
  });

  it("does not replay revocations older than the access-token lifetime (their tokens have expired)", async () => {
    const old = await revokedSession();
    ctx.clock.advance(ctx.config.tokens.accessTtlSeconds * 1000 + 61_000);
    const recent = await revokedSession();
    const watch = followRevocations(backend(h));
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    expect(watch.ids()).toContain(recent);
    expect(watch.ids()).not.toContain(old);
    await watch.stop();
  });

  it("refuses a malformed cursor, and starts over from a cursor ahead of the log", async () => {
    for (const cursor of ["nope", "rv1.", "rv1.-4", "rv1.99999999999999999999"]) {
      await expectRpcError(
        (async () => {
          for await (const _ of h.internalClient.watchRevocations({ cursor })) break;
        })(),
        Code.InvalidArgument,
      );
    }
    const recent = await revokedSession();
    const watch = followRevocations(backend(h), "rv1.9000000000");
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    expect(watch.ids()).toContain(recent);
    await watch.stop();
  });

  it("ends open streams normally when the server shuts down", async () => {
    const watch = followRevocations(backend(h));
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    h.module.endStreams();
    await expect(watch.done).resolves.toBeUndefined();
  });
});

describe("WatchRevocations on the public port: the caller's own account, with a Bearer token", () => {
  let ctx: TestContext;
  let h: SessionHarness;

  beforeAll(async () => {
    ctx = await createTestContext({ env: { WATCH_REVOCATIONS_MAX_PER_ACCOUNT: "2", WATCH_REVOCATIONS_MAX_PER_IP: "3" } });
    h = await createSessionHarness(ctx);
  });
  afterAll(async () => {
    await h.close();
    await ctx.close();
  });

  /** Opens a public-port stream with `accessToken` and waits for its caught_up marker. */
  async function watchAs(accessToken: string) {
    const watch = followRevocations(h, "", { authorization: `Bearer ${accessToken}` });
    await vi.waitFor(() => expect(watch.caughtUp()).toBe(true));
    return watch;
  }

  it("refuses an anonymous caller, and a malformed or unknown token, with Unauthenticated", async () => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: "Bearer not-a-token" }, { authorization: "Basic dXNlcjpwYXNz" }];
    for (const headers of attempts) {
      await expectRpcError(
        (async () => {
          for await (const _ of h.client.watchRevocations({}, { headers })) break;
        })(),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );
    }
  });

  it("streams the revocations of the caller's own sessions, never another account's; the internal port sees both", async () => {
    const alice = await createActiveUser(ctx);
    const bob = await createActiveUser(ctx);
    /** One login per TOTP step: a code is accepted once. */
    const login = async (user: typeof alice, device: string) => {
      nextTotpStep(ctx);
      return h.login(user, device);
    };
    const [a1, a2, a3] = [await login(alice, "a1"), await login(alice, "a2"), await login(alice, "a3")];
    const [b1, b2] = [await login(bob, "b1"), await login(bob, "b2")];
    // Revoked before the streams open: the catch-up must filter too.
    await h.client.logout({}, bearer(a3.accessToken));
    await h.client.logout({}, bearer(b2.accessToken));

    const internal = followRevocations(backend(h));
    const mine = await watchAs(a1.accessToken);
    await vi.waitFor(() => expect(internal.caughtUp()).toBe(true));
    expect(mine.ids()).toEqual([a3.sessionId]);

    await h.client.logout({}, bearer(b1.accessToken));
    await h.client.logout({}, bearer(a2.accessToken));
    await vi.waitFor(() => expect(internal.ids()).toEqual(expect.arrayContaining([b1.sessionId, a2.sessionId])));
    await vi.waitFor(() => expect(mine.ids()).toEqual([a3.sessionId, a2.sessionId]));
    expect(internal.ids()).toEqual(expect.arrayContaining([a3.sessionId, b2.sessionId]));
    // Every response is about alice's sessions only: bob's revocations produce no message at all.
    expect(mine.received.filter((r) => !r.caughtUp).flatMap((r) => r.sessionIds)).not.toContain(b1.sessionId);

    // Its own session revoked, the stream has told the caller and ends: its credential is gone.
    await h.client.logout({}, bearer(a1.accessToken));
    await expect(mine.done).resolves.toBeUndefined();
    expect(mine.ids().at(-1)).toBe(a1.sessionId);
    await internal.stop();
  });

  it("caps open streams per account and per client address with ResourceExhausted and RetryInfo", async () => {
    nextTotpStep(ctx);
    const carol = await createActiveUser(ctx);
    const dave = await createActiveUser(ctx);
    const c = await h.login(carol, "c");
    const d = await h.login(dave, "d");
    const open = async (accessToken: string) => {
      const error = await expectRpcError(
        (async () => {
          for await (const _ of h.client.watchRevocations({}, bearer(accessToken))) break;
        })(),
        Code.ResourceExhausted,
      );
      expect(retryDelayMsOf(error)).toBeGreaterThan(0);
    };

    const carolStreams = [await watchAs(c.accessToken), await watchAs(c.accessToken)];
    await open(c.accessToken); // third for carol: over the per-account cap of 2
    // The address (every harness call comes from one) has room for one more, dave's.
    const daveStream = await watchAs(d.accessToken);
    await open(d.accessToken); // fourth from the address: over the per-address cap of 3

    // A stream that ends gives its slot back.
    await carolStreams[0]!.stop();
    const again = await watchAs(c.accessToken);
    for (const w of [carolStreams[1]!, daveStream, again]) await w.stop();
  });
});
