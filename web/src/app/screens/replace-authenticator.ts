/**
 * A new authenticator, after the step-up: a new secret (QR code and key), held as pending until a
 * code from it is confirmed; until then the old authenticator keeps working, and from then on only
 * the new one does.
 */
import { confirmAuthenticator, startAuthenticatorReplacement } from "../../client/account.js";
import { describeAccountError } from "../../client/account-errors.js";
import { FlowError } from "../../client/flow-error.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { showAccountFailure } from "../ui/account-failure.js";
import { cancelToSecurity } from "../ui/account-nav.js";
import { busy, button, form, notice, screenHeader, totpCodeField } from "../ui/components.js";
import { deadlineNote } from "../ui/deadline-note.js";
import { h } from "../ui/dom.js";
import { totpSetupArea } from "../ui/totp-setup.js";

export function replaceAuthenticatorScreen(ui: Ui, route: Extract<Route, { name: "replace-authenticator" }>): Screen {
  const { proof } = route;
  const message = notice();
  const code = totpCodeField("6-digit code", "The code your NEW authenticator shows. It changes every 30 seconds.");
  const submit = button("Confirm new authenticator", { type: "submit", block: true });
  submit.disabled = true;
  const restart = (text: string) => ui.go({ name: "step-up", action: "replace-authenticator", flash: { tone: "error", message: text } });
  const setupArea = totpSetupArea(() => startAuthenticatorReplacement(ui.accountService, proof), {
    loaded: () => {
      submit.disabled = false;
    },
    failed: (err) => showAccountFailure(ui, describeAccountError(err, "change"), { restart, message, submit }),
  });

  async function onSubmit(): Promise<void> {
    code.setError(null);
    message.clear();
    const done = busy(submit, "Confirming…");
    try {
      await confirmAuthenticator(ui.accountService, proof, code.value());
      ui.go({ name: "security", flash: { tone: "success", message: "Your new authenticator is set up. Codes from the old one no longer work." } });
    } catch (err) {
      done();
      if (err instanceof FlowError) {
        code.setError(err.message);
        return code.input.focus();
      }
      await showAccountFailure(ui, describeAccountError(err, "change"), { restart, field: code, message, submit });
    }
  }

  const element = h(
    "section",
    { class: "card" },
    screenHeader("Set up your new authenticator", "Scan the code with the new authenticator app, then enter the code it shows. Your old authenticator keeps working until you confirm."),
    message.element,
    setupArea.element,
    form("Confirm new authenticator", onSubmit, code.element, submit),
    cancelToSecurity(ui),
    deadlineNote(proof.expiresAt),
  );
  void setupArea.load();
  return { element, title: "New authenticator", dispose: setupArea.dispose };
}
