/** Log in, first half: username and password (proven with OPAQUE; the password never leaves). */
import { describeError } from "../../client/error-messages.js";
import { login } from "../../client/login.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { busy, button, field, form, notice, screenHeader } from "../ui/components.js";
import { cooldown } from "../ui/cooldown.js";
import { h } from "../ui/dom.js";

export function loginScreen(ui: Ui, route: Extract<Route, { name: "login" }>): Screen {
  const message = notice();
  if (route.flash) message.show(route.flash.tone, route.flash.message);
  const username = field({ label: "Username", name: "username", autocomplete: "username", value: route.username });
  const password = field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", revealable: true });
  const submit = button("Continue", { type: "submit", block: true });

  const loginForm = form("Log in", onSubmit, username.element, password.element, submit);

  async function onSubmit(): Promise<void> {
    username.setError(null);
    password.setError(null);
    if (username.value().trim() === "") {
      username.setError("Enter your username.");
      return username.input.focus();
    }
    if (password.value() === "") {
      password.setError("Enter your password.");
      return password.input.focus();
    }
    message.clear();
    const done = busy(submit, "Checking…");
    try {
      const proof = await login(ui.clients, username.value(), password.value());
      ui.go({ name: "second-factor", proof });
    } catch (err) {
      done();
      const described = describeError(err, "login");
      message.show("error", described.message);
      password.input.value = "";
      password.input.focus();
      if (described.retryAfterSeconds) cooldown(submit, described.retryAfterSeconds);
    }
  }

  const element = h(
    "section",
    { class: "card" },
    screenHeader("Log in", "Your password is checked without ever leaving this device."),
    message.element,
    loginForm,
    h(
      "p",
      { class: "switch" },
      "New to Cypher? ",
      button("Create an account", { variant: "link", onClick: () => ui.go({ name: "register" }) }),
    ),
  );
  return { element, title: "Log in", focus: route.username ? password.input : undefined };
}
