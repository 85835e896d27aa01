/** Registration, step 1 of 3: choose a username and a password (OPAQUE: the server never sees it). */
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../../../gen/google/rpc/error_details_pb.js";
import { describeError } from "../../client/error-messages.js";
import { FlowError } from "../../client/flow-error.js";
import { register } from "../../client/register.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { busy, button, field, form, notice, screenHeader, stepper } from "../ui/components.js";
import { cooldown } from "../ui/cooldown.js";
import { h } from "../ui/dom.js";
import { newPasswordFields } from "../ui/new-password.js";

export function registerScreen(ui: Ui, route: Extract<Route, { name: "register" }>): Screen {
  const message = notice();
  if (route.flash) message.show(route.flash.tone, route.flash.message);
  const username = field({
    label: "Username",
    name: "username",
    autocomplete: "username",
    hint: "3–64 letters, digits, dots, dashes, underscores or @.",
    maxlength: 64,
  });
  const { password, confirm, confirmed } = newPasswordFields({ password: "Password", confirm: "Repeat password" });
  const submit = button("Create account", { type: "submit", block: true });

  async function onSubmit(): Promise<void> {
    username.setError(null);
    message.clear();
    if (!confirmed()) return;
    const done = busy(submit, "Creating account…");
    try {
      const enrollment = await register(ui.clients, username.value(), password.value());
      ui.go({ name: "enroll", enrollment });
    } catch (err) {
      done();
      showError(err);
    }
  }

  function showError(err: unknown): void {
    if (err instanceof FlowError && err.kind === "invalid-username") {
      username.setError(err.message);
      return username.input.focus();
    }
    if (err instanceof FlowError && err.kind === "invalid-password") {
      password.setError(err.message);
      return password.input.focus();
    }
    const described = describeError(err, "register");
    const ce = err instanceof ConnectError ? err : undefined;
    const aboutUsername =
      ce?.code === Code.AlreadyExists ||
      (ce?.code === Code.InvalidArgument && ce.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field === "username");
    if (aboutUsername) {
      username.setError(described.message);
      return username.input.focus();
    }
    message.show("error", described.message);
    if (described.retryAfterSeconds) cooldown(submit, described.retryAfterSeconds);
  }

  const element = h(
    "section",
    { class: "card" },
    stepper(1),
    screenHeader("Create your account", "Cypher never learns your password, not even when you sign up."),
    message.element,
    form(
      "Create account",
      onSubmit,
      username.element,
      password.element,
      confirm.element,
      submit,
    ),
    h("p", { class: "switch" }, "Already have an account? ", button("Log in", { variant: "link", onClick: () => ui.go({ name: "login" }) })),
  );
  return { element, title: "Create account" };
}
