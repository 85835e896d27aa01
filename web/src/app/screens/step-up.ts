/**
 * "Confirm it's you": the password and a code (authenticator or recovery code) again, before one
 * change on the Security page. What it buys is a reauth token for that one change, held in memory
 * for at most five minutes. After a login with a recovery code because the authenticator is lost,
 * this is where the app leads: another recovery code, then a new authenticator.
 */
import { regenerateRecoveryCodes, stepUp, type ReauthProof, type StepUpFactor } from "../../client/account.js";
import { describeAccountError } from "../../client/account-errors.js";
import type { Screen, Ui } from "../app.js";
import type { AccountAction, Route } from "../routes.js";
import { showAccountFailure } from "../ui/account-failure.js";
import { busy, button, field, form, notice, screenHeader, totpCodeField, type Field } from "../ui/components.js";
import { h, replaceChildren } from "../ui/dom.js";

type Mode = "totp" | "recovery";

const NEXT: Record<AccountAction, string> = {
  "change-password": "Then you can choose a new password.",
  "replace-authenticator": "Then you can set up your new authenticator app.",
  "new-recovery-codes": "Then you get ten new recovery codes, and the old ones stop working.",
  "delete-account": "Then you can delete your account.",
};

export function stepUpScreen(ui: Ui, route: Extract<Route, { name: "step-up" }>): Screen {
  const { action, lostAuthenticator = false } = route;
  const state = ui.sessions.current;
  const username = state.status === "signed-in" ? state.session.username : "";
  const message = notice();
  if (route.flash) message.show(route.flash.tone, route.flash.message);
  else if (lostAuthenticator) {
    message.show("info", "You logged in with a recovery code. To stop using your lost authenticator, confirm with your password and another recovery code, then set up a new one.");
  }
  const password = field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", revealable: true });
  const codeSlot = h("div");
  const submit = button("Continue", { type: "submit", block: true });
  const switchMode = button("", { variant: "link", onClick: () => setMode(mode === "totp" ? "recovery" : "totp", true) });
  let mode: Mode = lostAuthenticator ? "recovery" : "totp";
  let code!: Field;

  function setMode(next: Mode, focus: boolean): void {
    mode = next;
    code =
      next === "totp"
        ? totpCodeField("Authentication code")
        : field({ label: "Recovery code", name: "recovery-code", autocomplete: "off", placeholder: "xxxx-xxxx-xxxx", maxlength: 20, monospace: true, hint: "Each recovery code works once." });
    replaceChildren(codeSlot, code.element);
    const label = switchMode.querySelector(".button-label");
    if (label) label.textContent = next === "totp" ? "Use a recovery code instead" : "Use your authenticator app instead";
    if (focus) code.input.focus();
  }

  async function onSubmit(): Promise<void> {
    password.setError(null);
    code.setError(null);
    if (!lostAuthenticator) message.clear();
    if (password.value() === "") {
      password.setError("Enter your password.");
      return password.input.focus();
    }
    const factor: StepUpFactor = mode === "totp" ? { totpCode: code.value() } : { recoveryCode: code.value() };
    const done = busy(submit, "Checking…");
    let proof: ReauthProof;
    try {
      proof = await stepUp(ui.clients, ui.accountService, username, password.value(), factor);
    } catch (err) {
      done();
      const described = describeAccountError(err, "step-up");
      // A wrong password is typed again; after a wrong code, an outage or a wait it is kept.
      if (described.field === "password") password.input.value = "";
      await showAccountFailure(ui, described, {
        restart: (text) => {
          message.show("error", text);
          password.input.focus();
        },
        ...(described.field === undefined ? {} : { field: described.field === "code" ? code : password }),
        message,
        submit,
      });
      return;
    }
    await proceed(proof, done);
  }

  async function proceed(proof: ReauthProof, done: () => void): Promise<void> {
    switch (action) {
      case "change-password":
        return ui.go({ name: "change-password", proof });
      case "replace-authenticator":
        return ui.go({ name: "replace-authenticator", proof });
      case "delete-account":
        return ui.go({ name: "delete-account", proof });
      case "new-recovery-codes":
        try {
          const codes = await regenerateRecoveryCodes(ui.accountService, proof);
          return ui.go({ name: "new-recovery-codes", username: proof.username, codes });
        } catch (err) {
          done();
          await showAccountFailure(ui, describeAccountError(err, "change"), { restart: (text) => message.show("error", text), message, submit });
        }
    }
  }

  setMode(mode, false);
  const element = h(
    "section",
    { class: "card" },
    screenHeader(
      lostAuthenticator ? "Set up a new authenticator" : "Confirm it's you",
      lostAuthenticator ? `Enter the password for ${username} and another recovery code.` : `Enter the password and a code for ${username}. ${NEXT[action]}`,
    ),
    message.element,
    form(
      "Confirm it's you",
      onSubmit,
      // For password managers: the account the password belongs to.
      h("input", { type: "text", name: "username", autocomplete: "username", value: username, hidden: true, readonly: true }),
      password.element,
      codeSlot,
      submit,
    ),
    h(
      "div",
      { class: "switch switch-split" },
      // The authenticator is lost: offering it would only confuse.
      lostAuthenticator ? null : switchMode,
      button(lostAuthenticator ? "Not now" : "Cancel", { variant: "link", onClick: () => ui.go({ name: lostAuthenticator ? "sessions" : "security" }) }),
    ),
  );
  return { element, title: lostAuthenticator ? "New authenticator" : "Confirm it's you", focus: password.input };
}
