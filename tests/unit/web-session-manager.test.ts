/**
 * The browser session manager, with several "tabs" (managers) sharing one lock, one message
 * channel and one cookie jar, against an in-memory SessionService that rotates refresh tokens and
 * refuses reuse like the real one. Time is simulated: timers fire only when the test advances it.
 */
import { createClient, createRouterTransport, Code, ConnectError, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import { SessionSchema, SessionService, TokenPairSchema } from "../../gen/cypher/session/v1/session_pb.js";
import { inTabMutex, SessionManager, type ChannelLike, type LockManagerLike } from "../../web/src/session/session-manager.js";
import type { PasswordProof } from "../../web/src/client/login.js";

const ACCESS_TTL_MS = 100_000;
const PEER_WAIT_MS = 100;

/** Simulated clock and timers. */
class FakeTime {
  nowMs = Date.UTC(2026, 10, 21, 12);
  private timers: Array<{ id: number; at: number; fn: () => void }> = [];
  private nextId = 1;

  now = () => this.nowMs;
  setTimer = (fn: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.push({ id, at: this.nowMs + ms, fn });
    return id;
  };
  clearTimer = (id: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };

  /** Moves time forward, firing due timers in order and letting the work they start finish. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = Math.min(...this.timers.filter((t) => t.at <= target).map((t) => t.at));
      if (!Number.isFinite(next)) break;
      // Timers due at the same moment fire together, before any of their work can run.
      const due = this.timers.filter((t) => t.at === next);
      this.timers = this.timers.filter((t) => t.at !== next);
      this.nowMs = Math.max(this.nowMs, next);
      for (const timer of due) timer.fn();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }
}

/** Lets promises, in-memory RPCs and channel deliveries run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** BroadcastChannel semantics: delivered asynchronously to every other channel, as a copy. */
class ChannelHub {
  private readonly channels = new Set<{ listeners: Array<(e: { data: unknown }) => void> }>();
  channel(): ChannelLike {
    const self = { listeners: [] as Array<(e: { data: unknown }) => void> };
    this.channels.add(self);
    return {
      postMessage: (message) => {
        for (const other of this.channels) {
          if (other === self) continue;
          const data = structuredClone(message);
          setImmediate(() => other.listeners.forEach((l) => l({ data })));
        }
      },
      addEventListener: (_type, listener) => self.listeners.push(listener),
      close: () => this.channels.delete(self),
    };
  }
}

/** A token the manager can read claims from (iat, exp), like a PASETO v4.public token. */
function fakeToken(kind: string, iatMs: number, expMs: number, n: number): string {
  const payload = Buffer.from(JSON.stringify({ kind, n, iat: new Date(iatMs).toISOString(), exp: new Date(expMs).toISOString() }));
  return `v4.public.${Buffer.concat([payload, Buffer.alloc(64)]).toString("base64url")}`;
}

/** SessionService as the browser sees it: one cookie jar for every tab, single-use refresh tokens. */
class FakeSessionServer {
  cookie: string | null = null;
  calls = { create: 0, refresh: 0, logout: 0, list: 0 };
  refreshFailure: ConnectError | null = null;
  private n = 0;
  private readonly sessions = new Map<string, { live: boolean; refresh: string }>();
  private readonly access = new Map<string, { sessionId: string; expMs: number }>();

  constructor(private readonly time: FakeTime) {}

  /** A transport to this fake server; `interceptors` run in the "browser", before the call. */
  transport(interceptors: Interceptor[] = []) {
    return createRouterTransport(({ service }) => {
      service(SessionService, {
        createSession: (req) => {
          this.calls.create++;
          if (req.loginToken !== "good-login-token") throw new ConnectError("authentication failed", Code.Unauthenticated);
          const sessionId = `s${++this.n}`;
          this.sessions.set(sessionId, { live: true, refresh: "" });
          return this.issue(sessionId);
        },
        refreshSession: (req) => {
          this.calls.refresh++;
          if (this.refreshFailure) throw this.refreshFailure;
          const presented = req.refreshToken || this.cookie;
          const entry = [...this.sessions.entries()].find(([, s]) => s.live && s.refresh === presented);
          if (!presented || !entry) throw new ConnectError("authentication failed", Code.Unauthenticated);
          return this.issue(entry[0]);
        },
        logout: (req, ctx) => {
          this.calls.logout++;
          const sessionId = this.bearer(ctx);
          for (const [id, s] of this.sessions) if (req.allSessions || id === sessionId) s.live = false;
          this.cookie = null;
          return {};
        },
        listSessions: (_req, ctx) => {
          this.calls.list++;
          const sessionId = this.bearer(ctx);
          return { sessions: [create(SessionSchema, { sessionId, username: "alice", current: true })] };
        },
      });
    }, { transport: { interceptors } });
  }

  /** Ends a session the way a revocation from another device does. */
  revoke(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s) s.live = false;
  }

  /** Makes every access token unacceptable (e.g. a key rotation), while sessions stay live. */
  forgetAccessTokens(): void {
    this.access.clear();
  }

  private issue(sessionId: string) {
    const now = this.time.now();
    const accessToken = fakeToken("access", now, now + ACCESS_TTL_MS, ++this.n);
    const refresh = `refresh-${++this.n}`;
    this.access.set(accessToken, { sessionId, expMs: now + ACCESS_TTL_MS });
    this.sessions.get(sessionId)!.refresh = refresh;
    this.cookie = refresh;
    return {
      session: create(SessionSchema, { sessionId, userId: "u1", username: "alice", deviceName: "Test", createdAt: timestampFromMs(now) }),
      tokens: create(TokenPairSchema, { accessToken, accessTokenExpiresAt: timestampFromMs(now + ACCESS_TTL_MS), refreshToken: "" }),
    };
  }

  private bearer(ctx: HandlerContext): string {
    const token = ctx.requestHeader.get("authorization")?.replace(/^Bearer /, "") ?? "";
    const found = this.access.get(token);
    if (!found || found.expMs <= this.time.now() || !this.sessions.get(found.sessionId)?.live) {
      throw new ConnectError("authentication failed", Code.Unauthenticated);
    }
    return found.sessionId;
  }
}

const PROOF: PasswordProof = { username: "alice", loginToken: "good-login-token", expiresAt: new Date(0), serverIdentity: "cypher" };

describe("session manager", () => {
  let managers: SessionManager[] = [];

  afterEach(() => {
    for (const m of managers) m.close();
    managers = [];
  });

  function setup() {
    const time = new FakeTime();
    const server = new FakeSessionServer(time);
    const transport = server.transport();
    const locks: LockManagerLike = inTabMutex(); // one lock shared by every "tab"
    const hub = new ChannelHub();
    let seed = 0;
    const openTab = (random?: () => number) => {
      const tabSeed = ++seed;
      const manager = new SessionManager({
        session: createClient(SessionService, transport),
        locks,
        channel: hub.channel(),
        peerWaitMs: PEER_WAIT_MS,
        now: time.now,
        // Distinct jitter per tab unless a test pins it.
        random: random ?? (() => (tabSeed * 0.37) % 1),
        setTimer: time.setTimer,
        clearTimer: time.clearTimer,
      });
      managers.push(manager);
      return manager;
    };
    const start = async (tab: SessionManager) => {
      const started = tab.start();
      await time.advance(PEER_WAIT_MS + 10);
      return await started;
    };
    const listWith = (tab: SessionManager) => createClient(SessionService, server.transport([tab.interceptor()]));
    return { time, server, openTab, start, listWith };
  }

  it("starts logged out when there is no cookie, after one refresh attempt", async () => {
    const { server, openTab, start } = setup();
    const tab = openTab();
    expect(await start(tab)).toEqual({ status: "signed-out", reason: "none" });
    expect(server.calls.refresh).toBe(1);
    await expect(tab.accessToken()).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("signs in, and a tab opened later gets the token from it without a refresh", async () => {
    const { server, openTab, start } = setup();
    const first = openTab();
    await start(first);
    const session = await first.signIn(PROOF, { totpCode: "123456" }, "Test");
    expect(session.username).toBe("alice");
    expect(first.current.status).toBe("signed-in");
    const refreshesBefore = server.calls.refresh;

    const second = openTab();
    expect(await start(second)).toMatchObject({ status: "signed-in", session: { sessionId: session.sessionId } });
    expect(server.calls.refresh).toBe(refreshesBefore);
    expect(await second.accessToken()).toBe(await first.accessToken());
  });

  it("a new tab with no other tab open gets its token from the cookie", async () => {
    const { server, openTab, start } = setup();
    const first = openTab();
    await start(first);
    await first.signIn(PROOF, { totpCode: "123456" }, "Test");
    first.close(); // the only tab is closed; the cookie stays in the jar
    const refreshesBefore = server.calls.refresh;

    const reopened = openTab();
    expect((await start(reopened)).status).toBe("signed-in");
    expect(server.calls.refresh).toBe(refreshesBefore + 1);
  });

  it("refreshes once, at 70-80 % of the token's life, for all tabs", async () => {
    const { time, server, openTab, start } = setup();
    const tabs = [openTab(), openTab(), openTab()];
    for (const tab of tabs) await start(tab);
    await tabs[0]!.signIn(PROOF, { totpCode: "123456" }, "Test");
    await time.advance(10);
    const original = await tabs[0]!.accessToken();
    const refreshesBefore = server.calls.refresh;

    await time.advance(0.69 * ACCESS_TTL_MS);
    expect(server.calls.refresh).toBe(refreshesBefore); // not yet
    await time.advance(0.12 * ACCESS_TTL_MS);
    expect(server.calls.refresh).toBe(refreshesBefore + 1);

    const tokens = await Promise.all(tabs.map((t) => t.accessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(original);
    // And so on, one refresh per period, however many tabs.
    await time.advance(ACCESS_TTL_MS);
    expect(server.calls.refresh).toBe(refreshesBefore + 2);
  });

  it("refreshes once even when every tab's timer fires at the same moment", async () => {
    const { time, server, openTab, start } = setup();
    const sameJitter = () => 0.5;
    const tabs = [openTab(sameJitter), openTab(sameJitter), openTab(sameJitter)];
    for (const tab of tabs) await start(tab);
    await tabs[0]!.signIn(PROOF, { totpCode: "123456" }, "Test");
    await time.advance(10);
    const refreshesBefore = server.calls.refresh;
    await time.advance(0.9 * ACCESS_TTL_MS);
    expect(server.calls.refresh).toBe(refreshesBefore + 1);
    const tokens = await Promise.all(tabs.map((t) => t.accessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(tabs.every((t) => t.current.status === "signed-in")).toBe(true);
  });

  it("logging out in one tab logs out every tab and clears the cookie", async () => {
    const { time, server, openTab, start } = setup();
    const [a, b] = [openTab(), openTab()];
    await start(a);
    await start(b);
    await a.signIn(PROOF, { totpCode: "123456" }, "Test");
    await time.advance(10);
    expect(b.current.status).toBe("signed-in");
    const seen: string[] = [];
    b.subscribe((state) => seen.push(state.status === "signed-out" ? `signed-out:${state.reason}` : state.status));

    await a.logout();
    await time.advance(10);
    expect(server.calls.logout).toBe(1);
    expect(server.cookie).toBeNull();
    expect(a.current).toEqual({ status: "signed-out", reason: "logout" });
    expect(b.current).toEqual({ status: "signed-out", reason: "other-tab" });
    expect(seen).toEqual(["signed-out:other-tab"]);
    await expect(b.accessToken()).rejects.toMatchObject({ code: Code.Unauthenticated });
    // No timer brings the session back.
    await time.advance(2 * ACCESS_TTL_MS);
    expect(b.current.status).toBe("signed-out");
  });

  it("adds the Bearer header, and on Unauthenticated refreshes once and retries once", async () => {
    const { time, server, openTab, start, listWith } = setup();
    const tab = openTab();
    await start(tab);
    await tab.signIn(PROOF, { totpCode: "123456" }, "Test");
    const client = listWith(tab);
    expect((await client.listSessions({})).sessions).toHaveLength(1);

    server.forgetAccessTokens(); // the token looks fine locally but the server refuses it
    const refreshesBefore = server.calls.refresh;
    const listsBefore = server.calls.list;
    const listing = client.listSessions({});
    await time.advance(PEER_WAIT_MS + 10);
    expect((await listing).sessions).toHaveLength(1);
    expect(server.calls.refresh).toBe(refreshesBefore + 1);
    expect(server.calls.list).toBe(listsBefore + 2);
  });

  it("when the session was revoked elsewhere, a call ends it in every tab", async () => {
    const { time, server, openTab, start, listWith } = setup();
    const [a, b] = [openTab(), openTab()];
    await start(a);
    await start(b);
    const session = await a.signIn(PROOF, { totpCode: "123456" }, "Test");
    await time.advance(10);
    server.revoke(session.sessionId);
    const refreshesBefore = server.calls.refresh;

    const listing = listWith(a).listSessions({});
    const failure = expect(listing).rejects.toMatchObject({ code: Code.Unauthenticated });
    await time.advance(PEER_WAIT_MS + 10);
    await failure;
    expect(a.current).toEqual({ status: "signed-out", reason: "ended" });
    expect(b.current).toEqual({ status: "signed-out", reason: "other-tab" });
    expect(server.calls.refresh).toBe(refreshesBefore + 1);
  });

  it("keeps the session through a network failure and retries the refresh, backing off", async () => {
    const { time, server, openTab, start } = setup();
    const tab = openTab(() => 0); // no jitter: the refresh is due at exactly 70 %
    await start(tab);
    await tab.signIn(PROOF, { totpCode: "123456" }, "Test");
    const original = await tab.accessToken();
    server.refreshFailure = new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch"));
    const refreshesBefore = server.calls.refresh;
    await time.advance(0.705 * ACCESS_TTL_MS);
    expect(server.calls.refresh).toBe(refreshesBefore + 1);
    expect(tab.current.status).toBe("signed-in");

    // Retries come, but spaced out (2 s, 4 s, 8 s ... ±25 %), not in a tight loop.
    await time.advance(20_000);
    const retries = server.calls.refresh - refreshesBefore - 1;
    expect(retries).toBeGreaterThanOrEqual(2);
    expect(retries).toBeLessThanOrEqual(5);

    server.refreshFailure = null;
    await time.advance(60_000);
    expect(tab.current.status).toBe("signed-in");
    const renewed = await tab.accessToken();
    expect(renewed).not.toBe(original);
  });

  it("a wrong login token does not sign anyone in", async () => {
    const { openTab, start } = setup();
    const tab = openTab();
    await start(tab);
    await expect(tab.signIn({ ...PROOF, loginToken: "stale" }, { totpCode: "123456" }, "Test")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(tab.current).toEqual({ status: "signed-out", reason: "none" });
  });
});
