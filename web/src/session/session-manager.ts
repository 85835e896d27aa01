/**
 * The browser's session: who is logged in and the access token that proves it.
 *
 * - The access token lives in this object only (never in storage, never in a cookie the page can
 *   read). The refresh token lives only in the HttpOnly `__Host-cypher_refresh` cookie, which the browser
 *   attaches to RefreshSession by itself.
 * - The token is refreshed at 70–80 % of its lifetime (random jitter). With several tabs open, the
 *   refresh runs under one Web Lock, so exactly one tab spends the cookie; it shares the new token
 *   over a BroadcastChannel, and a tab that gets the lock afterwards first asks the others for a
 *   fresh token before it refreshes on its own. A new tab gets its token the same way.
 * - Logging out (or the server refusing the cookie) in one tab logs out every tab.
 * - `interceptor()` adds `authorization: Bearer` to calls and, when the server answers
 *   Unauthenticated, refreshes once and retries once.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Session, TokenPair } from "../../../gen/cypher/session/v1/session_pb.js";
import { createSession, type SecondFactor } from "../../../client/login.js";
import type { SessionClient } from "../client/clients.js";
import type { PasswordProof } from "../client/login.js";
import { accessTokenFrom, isFresh, isUsable, refreshDelayMs, type AccessToken } from "./access-token.js";
import { isTabMessage, SESSION_CHANNEL_NAME, type SessionInfo, type TabMessage } from "./tab-messages.js";

export type { SessionInfo } from "./tab-messages.js";

export const REFRESH_LOCK_NAME = "cypher-session-refresh";

/** Why nobody is logged in (the app words its notice after it). */
export type SignedOutReason =
  /** No session to begin with (a first visit, or the cookie had expired). */
  | "none"
  /** This tab logged out. */
  | "logout"
  /** Another tab logged out. */
  | "other-tab"
  /** The server no longer accepts the session (expired, revoked from another device). */
  | "ended";

export type SessionState =
  | { status: "starting" }
  | { status: "signed-out"; reason: SignedOutReason }
  | { status: "signed-in"; session: SessionInfo };

export type { SecondFactor };

/** The subset of `navigator.locks` used here. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The subset of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export interface SessionManagerOptions {
  /** A SessionService client WITHOUT this manager's interceptor (CreateSession, RefreshSession, Logout). */
  session: SessionClient;
  /** Cross-tab lock; `navigator.locks` by default, an in-tab mutex where the API is missing. */
  locks?: LockManagerLike;
  /** Cross-tab messages; a BroadcastChannel by default. */
  channel?: ChannelLike;
  /** How long a tab waits for another tab to share a fresh token before refreshing itself. */
  peerWaitMs?: number;
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

type Listener = (state: SessionState) => void;

export class SessionManager {
  private state: SessionState = { status: "starting" };
  private token: AccessToken | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly tabId: string;
  private readonly session: SessionClient;
  private readonly locks: LockManagerLike;
  private readonly channel: ChannelLike | undefined;
  private readonly peerWaitMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private refreshTimer: unknown;
  private failedRefreshes = 0;
  /** One refresh per tab at a time: callers that arrive meanwhile share it. */
  private refreshing: Promise<void> | undefined;
  /** Resolved whenever a token is adopted; a tab waiting for its peers listens here. */
  private tokenWaiters = new Set<() => void>();
  /** Tokens received before this moment are from a session that has been logged out. */
  private signedOutAtMs = 0;
  private closed = false;

  constructor(options: SessionManagerOptions) {
    this.session = options.session;
    this.locks = options.locks ?? defaultLocks();
    this.channel = options.channel ?? defaultChannel();
    this.peerWaitMs = options.peerWaitMs ?? 150;
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? Math.random;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.tabId = randomId();
    this.channel?.addEventListener("message", (event) => this.onTabMessage(event.data));
  }

  get current(): SessionState {
    return this.state;
  }

  /** Calls `listener` on every change (not with the current state). Returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Finds out whether this browser is logged in: a fresh token from another tab if one has it,
   * otherwise a RefreshSession with the cookie (under the lock, so tabs opening together refresh once).
   */
  async start(): Promise<SessionState> {
    if (this.state.status !== "starting") return this.state;
    try {
      await this.refresh();
    } catch (err) {
      if (this.state.status === "starting") {
        // Not an Unauthenticated (that signs out inside refresh): the network or the server is down.
        // Nobody is known to be logged in; the app offers the login form and shows why.
        this.setState({ status: "signed-out", reason: "none" });
        throw err;
      }
    }
    return this.state;
  }

  /** Exchanges a password proof and a second factor for a session; every open tab is logged in. */
  async signIn(proof: PasswordProof, factor: SecondFactor, deviceName: string): Promise<SessionInfo> {
    // Under the lock: a refresh in another tab must not overwrite the new session's cookie.
    return await this.locks.request(REFRESH_LOCK_NAME, async () => {
      const res = await createSession(this.session, proof.loginToken, factor, deviceName);
      return this.adoptResponse(res.tokens, res.session);
    });
  }

  /** Ends this session (or every session of the account) and logs out every tab. */
  async logout(options: { everywhere?: boolean } = {}): Promise<void> {
    if (this.state.status !== "signed-in") return;
    const allSessions = options.everywhere ?? false;
    // Under the lock, so no tab is half-way through a refresh that would set a new cookie after
    // the server has cleared it.
    await this.locks.request(REFRESH_LOCK_NAME, async () => {
      if (this.state.status !== "signed-in") return;
      try {
        if (!isUsable(this.token, this.now())) await this.refreshNow();
        await this.logoutWithCurrentToken(allSessions);
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
        // The token was refused but the cookie may still be live: refresh once and try again.
        // If the refresh is refused too, the session is already over, which is what we want.
        if (this.state.status === "signed-in" && (await this.refreshNow().then(() => true, () => false))) {
          await this.logoutWithCurrentToken(allSessions).catch((again: unknown) => {
            if (ConnectError.from(again).code !== Code.Unauthenticated) throw again;
          });
        }
      }
      this.signOut("logout", true);
    });
  }

  /**
   * The server has ended this session itself (the account was deleted): every tab logs out, with
   * no Logout call, since there is nothing left to end.
   */
  endedByServer(): void {
    if (this.state.status === "signed-in") this.signOut("ended", true);
  }

  private async logoutWithCurrentToken(allSessions: boolean): Promise<void> {
    if (!this.token) return;
    await this.session.logout({ allSessions }, { headers: { authorization: `Bearer ${this.token.value}` } });
  }

  /** The token for a call starting now, refreshing first if it is about to expire. */
  async accessToken(): Promise<string> {
    const held = this.token;
    if (held && isUsable(held, this.now())) return held.value;
    if (this.state.status === "signed-out") throw notSignedIn();
    await this.refresh();
    const refreshed = this.token as AccessToken | undefined;
    if (!refreshed) throw notSignedIn();
    return refreshed.value;
  }

  /** Refreshes now unless the token is still fresh; for a tab coming back from the background. */
  async ensureFresh(): Promise<void> {
    if (this.state.status !== "signed-in" || isFresh(this.token, this.now())) return;
    await this.refresh();
  }

  /** Adds `authorization: Bearer`; on Unauthenticated refreshes once and retries once. */
  interceptor(): Interceptor {
    return (next) => async (req) =>
      await this.withBearer(async (headers) => {
        for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
        return await next(req);
      });
  }

  close(): void {
    this.closed = true;
    this.cancelRefreshTimer();
    this.channel?.close();
    this.listeners.clear();
  }

  // --- internals ---------------------------------------------------------------------------

  private async withBearer<T>(call: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    const token = await this.accessToken();
    try {
      return await call({ authorization: `Bearer ${token}` });
    } catch (err) {
      if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      // The server refused a token that looked good (revoked, keys rotated): refresh once, retry once.
      await this.refresh(token);
      if (!this.token || this.token.value === token) throw err;
      return await call({ authorization: `Bearer ${this.token.value}` });
    }
  }

  /**
   * Makes sure this tab holds a fresh token. `rejected` is a token the server just refused: it does
   * not count as fresh, even if another tab offers it.
   */
  private refresh(rejected?: string): Promise<void> {
    this.refreshing ??= this.locks
      .request(REFRESH_LOCK_NAME, () => this.refreshUnderLock(rejected))
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async refreshUnderLock(rejected: string | undefined): Promise<void> {
    if (this.closed) return;
    const acceptable = () => this.token !== undefined && isFresh(this.token, this.now()) && this.token.value !== rejected;
    // The tab that held the lock before us may have refreshed already: its broadcast, or its answer
    // to our question, arrives within a few milliseconds.
    if (acceptable()) return;
    this.channel?.postMessage({ type: "token-request", from: this.tabId } satisfies TabMessage);
    await this.waitForToken(acceptable);
    if (acceptable() || this.closed) return;

    try {
      await this.refreshNow();
      this.failedRefreshes = 0;
    } catch (err) {
      if (ConnectError.from(err).code === Code.Unauthenticated) {
        // No cookie, or the server no longer honours it: the session is over in every tab.
        const wasSignedIn = this.state.status === "signed-in";
        this.signOut(wasSignedIn ? "ended" : "none", wasSignedIn);
        return;
      }
      this.scheduleRetry();
      throw err;
    }
  }

  /** One RefreshSession with the cookie; the caller holds the lock. */
  private async refreshNow(): Promise<void> {
    const startedAtMs = this.now();
    // An empty refresh_token: the server reads the HttpOnly cookie.
    const res = await this.session.refreshSession({ refreshToken: "" });
    if (startedAtMs < this.signedOutAtMs) {
      // Another tab logged out while the answer was on its way: that wins.
      if (this.state.status === "starting") this.setState({ status: "signed-out", reason: "other-tab" });
      return;
    }
    this.adoptResponse(res.tokens, res.session);
  }

  private waitForToken(done: () => boolean): Promise<void> {
    if (!this.channel) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        this.tokenWaiters.delete(check);
        this.clearTimer(timer);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = this.setTimer(finish, this.peerWaitMs);
      this.tokenWaiters.add(check);
    });
  }

  private adoptResponse(pair: TokenPair | undefined, session: Session | undefined): SessionInfo {
    if (!pair || !session || pair.accessToken === "") throw new ConnectError("the server sent no session", Code.Internal);
    const expiresAt = pair.accessTokenExpiresAt ? timestampDate(pair.accessTokenExpiresAt) : undefined;
    const token = accessTokenFrom(pair.accessToken, expiresAt, this.now());
    const info: SessionInfo = {
      sessionId: session.sessionId,
      userId: session.userId,
      username: session.username,
      deviceName: session.deviceName,
    };
    this.adopt(token, info);
    this.channel?.postMessage({ type: "token", from: this.tabId, token, session: info } satisfies TabMessage);
    return info;
  }

  private adopt(token: AccessToken, session: SessionInfo): void {
    this.token = token;
    this.scheduleRefresh();
    const state = this.state;
    if (state.status !== "signed-in" || state.session.sessionId !== session.sessionId || state.session.username !== session.username) {
      this.setState({ status: "signed-in", session });
    }
    for (const waiter of [...this.tokenWaiters]) waiter();
  }

  private onTabMessage(data: unknown): void {
    if (this.closed || !isTabMessage(data) || data.from === this.tabId) return;
    switch (data.type) {
      case "token-request":
        if (this.state.status === "signed-in" && this.token && isFresh(this.token, this.now())) {
          this.channel?.postMessage({ type: "token", from: this.tabId, token: this.token, session: this.state.session } satisfies TabMessage);
        }
        return;
      case "token":
        // Ignore tokens from before a logout, and tokens older than the one we hold.
        if (data.token.receivedAtMs < this.signedOutAtMs) return;
        if (this.token && data.token.expiresAtMs <= this.token.expiresAtMs) return;
        this.adopt(data.token, data.session);
        return;
      case "signed-out":
        // A login newer than that logout (in this tab or shared by another) stands.
        if (this.token && this.token.receivedAtMs > data.atMs) return;
        if (this.state.status === "signed-in") this.signOut("other-tab", false, data.atMs);
        else this.signedOutAtMs = Math.max(this.signedOutAtMs, data.atMs);
        return;
    }
  }

  private signOut(reason: SignedOutReason, tellOtherTabs: boolean, atMs = this.now()): void {
    this.token = undefined;
    this.signedOutAtMs = Math.max(this.signedOutAtMs, atMs);
    this.cancelRefreshTimer();
    if (tellOtherTabs) this.channel?.postMessage({ type: "signed-out", from: this.tabId, atMs } satisfies TabMessage);
    this.setState({ status: "signed-out", reason });
  }

  private scheduleRefresh(): void {
    this.cancelRefreshTimer();
    if (!this.token || this.closed) return;
    const delay = refreshDelayMs(this.token, this.now(), this.random());
    this.refreshTimer = this.setTimer(() => this.backgroundRefresh(), delay);
  }

  /** After a failure that is not the session's end (network, server): try again, backing off. */
  private scheduleRetry(): void {
    this.cancelRefreshTimer();
    if (this.closed || this.state.status !== "signed-in") return;
    this.failedRefreshes++;
    const delay = Math.min(60_000, 1_000 * 2 ** Math.min(this.failedRefreshes, 6)) * (0.75 + 0.5 * this.random());
    this.refreshTimer = this.setTimer(() => this.backgroundRefresh(), delay);
  }

  private backgroundRefresh(): void {
    this.refreshTimer = undefined;
    // Failures are handled inside (sign-out or retry); nothing to report to anyone here.
    this.refresh().catch(() => {});
  }

  private cancelRefreshTimer(): void {
    if (this.refreshTimer !== undefined) this.clearTimer(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private setState(state: SessionState): void {
    this.state = state;
    for (const listener of [...this.listeners]) listener(state);
  }
}

function notSignedIn(): ConnectError {
  return new ConnectError("not signed in", Code.Unauthenticated);
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function defaultLocks(): LockManagerLike {
  const locks = typeof navigator !== "undefined" ? (navigator as Navigator & { locks?: LockManager }).locks : undefined;
  // The DOM typing wraps the callback's promise once more; the runtime value is the callback's.
  if (locks) return { request: <T>(name: string, callback: () => Promise<T>) => locks.request(name, callback) as unknown as Promise<T> };
  return inTabMutex();
}

/** Where Web Locks are missing (an insecure origin), at least one tab never refreshes twice at once. */
export function inTabMutex(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(callback, callback);
      tails.set(name, run.catch(() => {}));
      return run;
    },
  };
}

function defaultChannel(): ChannelLike | undefined {
  return typeof BroadcastChannel === "undefined" ? undefined : new BroadcastChannel(SESSION_CHANNEL_NAME);
}
