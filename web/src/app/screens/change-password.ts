/**
 * A new password, after the step-up. It is registered with OPAQUE like the first one (it never
 * leaves the browser); the old one stops working at once. The other devices are logged out unless
 * the person chooses to keep them.
 */
import { changePassword } from "../../client/account.js";
import { describeAccountError } from "../../client/account-errors.js";
import { FlowError } from "../../client/flow-error.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { showAccountFailure } from "../ui/account-failure.js";
import { cancelToSecurity } from "../ui/account-nav.js";
import { busy, button, form, notice, screenHeader } from "../ui/components.js";
import { h } from "../ui/dom.js";
import { deadlineNote } from "../ui/deadline-note.js";
import { newPasswordFields } from "../ui/new-password.js";

export function changePasswordScreen(ui: Ui, route: Extract<Route, { name: "change-password" }>): Screen {
  const { proof } = route;
  const message = notice();
  const { password, confirm, confirmed } = newPasswordFields({ password: "New password", confirm: "Repeat new password" });
  const keepOthers = h("input", { type: "checkbox", id: "keep-other-sessions", class: "checkbox" });
  const submit = button("Change password", { type: "submit", block: true });

  async function onSubmit(): Promise<void> {
    message.clear();
    if (!confirmed()) return;
    const done = busy(submit, "Changing password…");
    try {
      await changePassword(ui.accountService, proof, password.value(), { keepOtherSessions: keepOthers.checked });
      ui.go({
        name: "security",
        flash: {
          tone: "success",
          message: keepOthers.checked ? "Your password has been changed." : "Your password has been changed, and your other devices have been logged out.",
        },
      });
    } catch (err) {
      done();
      if (err instanceof FlowError && err.kind === "invalid-password") {
        password.setError(err.message);
        return password.input.focus();
      }
      await showAccountFailure(ui, describeAccountError(err, "change"), {
        restart: (text) => ui.go({ name: "step-up", action: "change-password", flash: { tone: "error", message: text } }),
        message,
        submit,
      });
    }
  }

  const element = h(
    "section",
    { class: "card" },
    screenHeader("Change your password", `Choose a new password for ${proof.username}. It never leaves this device.`),
    message.element,
    form(
      "Change password",
      onSubmit,
      h("input", { type: "text", name: "username", autocomplete: "username", value: proof.username, hidden: true, readonly: true }),
      password.element,
      confirm.element,
      h("div", { class: "check-row" }, keepOthers, h("label", { for: "keep-other-sessions" }, "Keep my other devices logged in")),
      submit,
    ),
    cancelToSecurity(ui),
    deadlineNote(proof.expiresAt),
  );
  return { element, title: "Change password", focus: password.input };
}
