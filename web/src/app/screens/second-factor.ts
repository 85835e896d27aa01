/**
 * Log in, second half: a code from the authenticator app, or one of the recovery codes. Success
 * creates the session (and logs in every open tab).
 */
import { describeError } from "../../client/error-messages.js";
import { FlowError } from "../../client/flow-error.js";
import { normalizeRecoveryCodeInput } from "../../client/recovery-code.js";
import { normalizeTotpCode } from "../../client/register.js";
import type { SecondFactor } from "../../session/session-manager.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { busy, button, field, form, notice, totpCodeField, type Field } from "../ui/components.js";
import { showCodeFailure } from "../ui/code-failure.js";
import { deviceName } from "../ui/device-name.js";
import { h, replaceChildren } from "../ui/dom.js";

type Mode = "totp" | "recovery";

export function secondFactorScreen(ui: Ui, route: Extract<Route, { name: "second-factor" }>): Screen {
  const { proof } = route;
  const message = notice();
  const fieldSlot = h("div");
  const submit = button("Verify", { type: "submit", block: true });
  const switchMode = button("", { variant: "link", onClick: () => setMode(mode === "totp" ? "recovery" : "totp", true) });
  const subtitle = h("p", { class: "subtitle" });
  let mode: Mode = "totp";
  let current!: Field;
  /** Chosen "Lost your authenticator?": after the login, lead on to replacing it. */
  let lostAuthenticator = false;
  const lost = button("Lost your authenticator?", {
    variant: "link",
    onClick: () => {
      lostAuthenticator = true;
      setMode("recovery", true);
      lost.hidden = true;
      subtitle.textContent = `Log in with one of the recovery codes you saved for ${proof.username}. Then you can set up a new authenticator.`;
    },
  });

  function makeField(m: Mode): Field {
    return m === "totp"
      ? totpCodeField("Authentication code")
      : field({
          label: "Recovery code",
          name: "recovery-code",
          autocomplete: "off",
          placeholder: "xxxx-xxxx-xxxx",
          maxlength: 20,
          monospace: true,
          hint: "Each recovery code works once.",
        });
  }

  function setMode(next: Mode, focus: boolean): void {
    mode = next;
    current = makeField(next);
    replaceChildren(fieldSlot, current.element);
    const label = switchMode.querySelector(".button-label");
    if (label) label.textContent = next === "totp" ? "Use a recovery code instead" : "Use your authenticator app instead";
    subtitle.textContent =
      next === "totp"
        ? `Enter the 6-digit code from your authenticator app for ${proof.username}.`
        : `Enter one of the recovery codes you saved for ${proof.username}.`;
    message.clear();
    if (focus) current.input.focus();
  }

  async function onSubmit(): Promise<void> {
    current.setError(null);
    message.clear();
    let factor: SecondFactor;
    try {
      factor = mode === "totp" ? { totpCode: normalizeTotpCode(current.value()) } : { recoveryCode: normalizeRecoveryCodeInput(current.value()) };
    } catch (err) {
      current.setError(err instanceof FlowError ? err.message : "Check the code.");
      return current.input.focus();
    }
    const done = busy(submit, "Verifying…");
    try {
      await ui.sessions.signIn(proof, factor, deviceName());
      ui.go(lostAuthenticator && mode === "recovery" ? { name: "step-up", action: "replace-authenticator", lostAuthenticator: true } : { name: "sessions" });
    } catch (err) {
      done();
      showCodeFailure(describeError(err, "second-factor"), {
        restart: (text) => ui.go({ name: "login", username: proof.username, flash: { tone: "error", message: text } }),
        field: current,
        message,
        submit,
      });
    }
  }

  setMode("totp", false);
  const element = h(
    "section",
    { class: "card" },
    h("header", { class: "screen-header" }, h("h1", { class: "title", tabindex: "-1" }, "Two-step verification"), subtitle),
    message.element,
    form("Second factor", onSubmit, fieldSlot, submit),
    h(
      "div",
      { class: "switch switch-split" },
      switchMode,
      lost,
      button("Start over", { variant: "link", onClick: () => ui.go({ name: "login", username: proof.username }) }),
    ),
  );
  return { element, title: "Two-step verification", focus: current.input };
}
