/**
 * Deleting the account, after the step-up, with one more deliberate act: typing the username.
 * Every session ends (every tab of this browser logs out) and the username becomes free.
 */
import { deleteAccount } from "../../client/account.js";
import { describeAccountError } from "../../client/account-errors.js";
import { normalizeUsername } from "../../client/username.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { showAccountFailure } from "../ui/account-failure.js";
import { cancelToSecurity } from "../ui/account-nav.js";
import { busy, button, field, form, notice, screenHeader } from "../ui/components.js";
import { deadlineNote } from "../ui/deadline-note.js";
import { h } from "../ui/dom.js";

export function deleteAccountScreen(ui: Ui, route: Extract<Route, { name: "delete-account" }>): Screen {
  const { proof } = route;
  const message = notice();
  const typed = field({ label: "Type your username to confirm", name: "confirm-username", autocomplete: "off", hint: `Your username is ${proof.username}.` });
  const submit = button("Delete my account", { type: "submit", variant: "danger", block: true });
  submit.disabled = true;
  typed.input.addEventListener("input", () => {
    submit.disabled = normalizeUsername(typed.value()) !== proof.username;
  });

  async function onSubmit(): Promise<void> {
    message.clear();
    if (normalizeUsername(typed.value()) !== proof.username) {
      typed.setError(`Type ${proof.username} to confirm.`);
      return typed.input.focus();
    }
    const done = busy(submit, "Deleting…");
    try {
      await deleteAccount(ui.accountService, proof);
    } catch (err) {
      done();
      await showAccountFailure(ui, describeAccountError(err, "change"), {
        restart: (text) => ui.go({ name: "step-up", action: "delete-account", flash: { tone: "error", message: text } }),
        message,
        submit,
      });
      return;
    }
    // The login screen first, with its notice: signing out then changes nothing on screen here,
    // while the other tabs follow.
    ui.go({ name: "login", flash: { tone: "success", message: "Your account has been deleted." } });
    ui.sessions.endedByServer();
  }

  const element = h(
    "section",
    { class: "card" },
    screenHeader("Delete your account?", "This erases your account and logs out every device. The username can then be registered by anyone. It cannot be undone."),
    message.element,
    form("Delete account", onSubmit, typed.element, submit),
    cancelToSecurity(ui),
    deadlineNote(proof.expiresAt),
  );
  return { element, title: "Delete account", focus: typed.input };
}
