/**
 * The Security page, beside the devices: what the account is (created, password and authenticator
 * last changed, recovery codes left) and the four changes, each behind a fresh password and code.
 */
import type { Account } from "../../client/account.js";
import { getAccount } from "../../client/account.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeError } from "../../client/error-messages.js";
import { FlowError } from "../../client/flow-error.js";
import type { Screen, Ui } from "../app.js";
import type { AccountAction, Route } from "../routes.js";
import { sessionIsLive } from "../ui/account-failure.js";
import { accountNav } from "../ui/account-nav.js";
import { button, notice, type ButtonVariant } from "../ui/components.js";
import { h, replaceChildren } from "../ui/dom.js";
import { dateTime, timestampToDate } from "../ui/format.js";

/** Below this many unused recovery codes, the page suggests making new ones. */
const FEW_RECOVERY_CODES = 3;

export function securityScreen(ui: Ui, route: Extract<Route, { name: "security" }>): Screen {
  const state = ui.sessions.current;
  const username = state.status === "signed-in" ? state.session.username : "";
  const message = notice();
  if (route.flash) message.show(route.flash.tone, route.flash.message);
  const warning = notice();
  const facts = h("dl", { class: "facts", "aria-busy": "true" }, h("dt", {}, "Recovery codes left"), h("dd", {}, "…"));
  let disposed = false;

  async function load(retried = false): Promise<void> {
    try {
      const account = await getAccount(ui.accountService);
      if (disposed) return;
      if (!account) throw new FlowError("protocol", "The server sent an answer this app cannot read.");
      render(account);
    } catch (err) {
      if (disposed) return;
      // A refused Bearer: the session manager tells whether the session is over (it then signs out
      // and the app shows the login screen) or only the token was stale (refreshed: ask once more).
      if (ConnectError.from(err).code === Code.Unauthenticated && !retried) {
        if (await sessionIsLive(ui)) return await load(true);
        return;
      }
      facts.removeAttribute("aria-busy");
      replaceChildren(facts, h("dt", {}, "Recovery codes left"), h("dd", {}, "—"));
      message.show("error", describeError(err, "session").message);
    }
  }

  function render(account: Account): void {
    const created = timestampToDate(account.createdAt);
    const passwordChanged = timestampToDate(account.passwordChangedAt);
    const totpEnrolled = timestampToDate(account.totpEnrolledAt);
    const left = account.recoveryCodesRemaining;
    replaceChildren(
      facts,
      h("dt", {}, "Account created"),
      h("dd", {}, created ? dateTime(created) : "—"),
      h("dt", {}, "Password"),
      h("dd", {}, passwordChanged ? `Changed ${dateTime(passwordChanged)}` : "Not changed since registration"),
      h("dt", {}, "Authenticator"),
      h("dd", {}, totpEnrolled ? `Set up ${dateTime(totpEnrolled)}` : "Set up"),
      h("dt", {}, "Recovery codes left"),
      h("dd", { "data-recovery-codes-remaining": String(left) }, String(left)),
    );
    facts.removeAttribute("aria-busy");
    if (left <= FEW_RECOVERY_CODES) {
      warning.show("info", left === 0 ? "You have no recovery codes left. Make new ones, in case you lose your authenticator." : `Only ${left} recovery code${left === 1 ? "" : "s"} left. Consider making new ones.`);
    }
  }

  const action = (name: AccountAction, title: string, text: string, label: string, variant: ButtonVariant = "secondary") =>
    h(
      "li",
      { class: variant === "danger" ? "security-action security-action-danger" : "security-action" },
      h("div", {}, h("h2", {}, title), h("p", {}, text)),
      button(label, { variant, onClick: () => ui.go({ name: "step-up", action: name }) }),
    );

  const element = h(
    "section",
    { class: "card card-wide" },
    accountNav(ui, "security"),
    h(
      "header",
      { class: "screen-header" },
      h("h1", { class: "title", tabindex: "-1" }, "Security"),
      h("p", { class: "subtitle" }, "Logged in as ", h("strong", { class: "username" }, username), ". Each change asks for your password and a code first."),
    ),
    message.element,
    facts,
    warning.element,
    h(
      "ul",
      { class: "security-actions", "aria-label": "Changes to your account" },
      action("change-password", "Password", "Choose a new password. Your other devices are logged out unless you keep them.", "Change password"),
      action("replace-authenticator", "Authenticator app", "Move your codes to a new phone or app. The old one stops working.", "Replace authenticator"),
      action("new-recovery-codes", "Recovery codes", "Get a fresh set of ten. Every old code stops working.", "Make new recovery codes"),
      action("delete-account", "Delete account", "Erase your account and log out every device. This cannot be undone.", "Delete account", "danger"),
    ),
  );
  void load();
  return {
    element,
    title: "Security",
    dispose: () => {
      disposed = true;
    },
  };
}
