/**
 * The app shell: one screen at a time inside <main>, focus moved to each new screen's heading,
 * and the session manager's changes (a logout in another tab, a session ended elsewhere) turned
 * into screen changes.
 */
import type { AccountClient } from "../client/account.js";
import type { CypherClients, SessionClient } from "../client/clients.js";
import { SESSION_ENDED_MESSAGE } from "../client/error-messages.js";
import type { SessionManager, SessionState } from "../session/session-manager.js";
import type { Flash, Route, RouteName } from "./routes.js";
import { enrollScreen } from "./screens/enroll.js";
import { loadingScreen } from "./screens/loading.js";
import { loginScreen } from "./screens/login.js";
import { recoveryCodesScreen } from "./screens/recovery-codes.js";
import { registerScreen } from "./screens/register.js";
import { secondFactorScreen } from "./screens/second-factor.js";
import { sessionsScreen } from "./screens/sessions.js";
import { changePasswordScreen } from "./screens/change-password.js";
import { deleteAccountScreen } from "./screens/delete-account.js";
import { newRecoveryCodesScreen } from "./screens/new-recovery-codes.js";
import { replaceAuthenticatorScreen } from "./screens/replace-authenticator.js";
import { securityScreen } from "./screens/security.js";
import { stepUpScreen } from "./screens/step-up.js";

/** Screens that make sense only while signed in: a logout elsewhere leaves them for the login screen. */
const SIGNED_IN_ONLY: readonly RouteName[] = ["sessions", "security", "step-up", "change-password", "replace-authenticator", "delete-account"];

export interface Screen {
  element: HTMLElement;
  /** Short name for the document title. */
  title: string;
  /** What receives focus when the screen appears; the heading by default. */
  focus?: HTMLElement;
  dispose?: () => void;
}

export interface Ui {
  clients: CypherClients;
  /** SessionService with the Bearer interceptor: ListSessions, RevokeSession. */
  account: SessionClient;
  /** AccountService with a Bearer header (no automatic retry: see `bearerInterceptor`). */
  accountService: AccountClient;
  sessions: SessionManager;
  go(route: Route): void;
}

/** Screens the session state may replace; the others belong to a flow in progress (codes shown once!). */
const FOLLOWS_SESSION: ReadonlySet<RouteName> = new Set(["loading", "login", ...SIGNED_IN_ONLY]);

type ScreenBuilder<N extends RouteName> = (ui: Ui, route: Extract<Route, { name: N }>) => Screen;

/** Each route's screen; a route without one does not compile. */
const SCREENS: { [N in RouteName]: ScreenBuilder<N> } = {
  loading: loadingScreen,
  login: loginScreen,
  register: registerScreen,
  enroll: enrollScreen,
  "recovery-codes": recoveryCodesScreen,
  "second-factor": secondFactorScreen,
  sessions: sessionsScreen,
  security: securityScreen,
  "step-up": stepUpScreen,
  "change-password": changePasswordScreen,
  "replace-authenticator": replaceAuthenticatorScreen,
  "new-recovery-codes": newRecoveryCodesScreen,
  "delete-account": deleteAccountScreen,
};

export class App implements Ui {
  private screen: Screen | undefined;
  private route: Route = { name: "loading" };

  constructor(
    private readonly root: HTMLElement,
    readonly clients: CypherClients,
    readonly account: SessionClient,
    readonly accountService: AccountClient,
    readonly sessions: SessionManager,
  ) {}

  async start(): Promise<void> {
    this.go({ name: "loading" });
    this.sessions.subscribe((state) => this.onSessionChange(state));
    try {
      const state = await this.sessions.start();
      // The subscription may have moved on already (signed in); otherwise leave the loading screen.
      if (this.route.name === "loading") this.go(state.status === "signed-in" ? { name: "sessions" } : { name: "login" });
    } catch {
      if (this.route.name === "loading") this.go({ name: "login", flash: { tone: "error", message: "Cannot reach Cypher right now. Check your connection and try again." } });
    }
  }

  go(route: Route): void {
    this.screen?.dispose?.();
    this.route = route;
    const screen = this.build(route);
    this.screen = screen;
    this.root.replaceChildren(screen.element);
    this.root.dataset.screen = route.name;
    document.title = `${screen.title} · Cypher`;
    const target = screen.focus ?? screen.element.querySelector<HTMLElement>("h1");
    target?.focus({ preventScroll: false });
    window.scrollTo({ top: 0 });
  }

  private build(route: Route): Screen {
    // The table is keyed by route name, so each builder receives its own route's data.
    return (SCREENS[route.name] as ScreenBuilder<RouteName>)(this, route);
  }

  private onSessionChange(state: SessionState): void {
    if (!FOLLOWS_SESSION.has(this.route.name)) return;
    if (state.status === "signed-in") {
      // Logged in by another tab. (The second-factor screen moves on by itself when it succeeds.)
      if (this.route.name === "loading" || this.route.name === "login") this.go({ name: "sessions" });
      return;
    }
    if (state.status === "signed-out" && SIGNED_IN_ONLY.includes(this.route.name)) {
      const flash: Flash | undefined =
        state.reason === "logout"
          ? { tone: "success", message: "You have logged out." }
          : state.reason === "other-tab"
            ? { tone: "info", message: "You logged out in another tab." }
            : state.reason === "ended"
              ? { tone: "info", message: SESSION_ENDED_MESSAGE }
              : undefined;
      this.go({ name: "login", ...(flash ? { flash } : {}) });
    }
  }
}
