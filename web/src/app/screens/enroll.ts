/**
 * Registration, step 2 of 3: the authenticator (QR code and key: ui/totp-setup.ts). Confirming a
 * current code activates the account.
 */
import { describeError, EXPIRED_ENROLLMENT_MESSAGE } from "../../client/error-messages.js";
import { FlowError } from "../../client/flow-error.js";
import { confirmTotp, normalizeTotpCode, setupTotp, type TotpSetup } from "../../client/register.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { busy, button, field, form, notice, screenHeader, stepper } from "../ui/components.js";
import { showCodeFailure } from "../ui/code-failure.js";
import { h, icon, ICONS, replaceChildren } from "../ui/dom.js";
import { timeOfDay } from "../ui/format.js";
import { totpSetupView } from "../ui/totp-setup.js";

export function enrollScreen(ui: Ui, route: Extract<Route, { name: "enroll" }>): Screen {
  const { enrollment } = route;
  const message = notice();
  const setupArea = h("div", { class: "totp-setup", "aria-busy": "true" }, h("div", { class: "qr-frame qr-loading" }, h("div", { class: "spinner" })));
  const code = field({
    label: "6-digit code",
    name: "totp-code",
    autocomplete: "one-time-code",
    inputmode: "numeric",
    maxlength: 7,
    placeholder: "123456",
    monospace: true,
    hint: "The code changes every 30 seconds.",
  });
  const submit = button("Confirm and activate", { type: "submit", block: true });
  submit.disabled = true;
  let disposeSetup: (() => void) | undefined;

  async function load(): Promise<void> {
    try {
      const setup = await setupTotp(ui.clients, enrollment);
      showSetup(setup);
      submit.disabled = false;
    } catch (err) {
      const described = describeError(err, "enroll");
      if (described.recovery === "restart") return ui.go({ name: "register", flash: { tone: "error", message: EXPIRED_ENROLLMENT_MESSAGE } });
      replaceChildren(setupArea, button("Try again", { variant: "secondary", onClick: () => void load() }));
      setupArea.removeAttribute("aria-busy");
      message.show("error", described.message);
    }
  }

  function showSetup(setup: TotpSetup): void {
    const view = totpSetupView(setup);
    disposeSetup = view.dispose;
    replaceChildren(setupArea, ...view.nodes);
    setupArea.removeAttribute("aria-busy");
  }

  async function onSubmit(): Promise<void> {
    code.setError(null);
    message.clear();
    let digits: string;
    try {
      digits = normalizeTotpCode(code.value());
    } catch (err) {
      code.setError(err instanceof FlowError ? err.message : "Enter the 6-digit code.");
      return code.input.focus();
    }
    const done = busy(submit, "Confirming…");
    try {
      const codes = await confirmTotp(ui.clients, enrollment, digits);
      ui.go({ name: "recovery-codes", username: enrollment.username, codes });
    } catch (err) {
      done();
      showCodeFailure(describeError(err, "enroll"), {
        restart: (text) => ui.go({ name: "register", flash: { tone: "error", message: text } }),
        field: code,
        message,
        submit,
      });
    }
  }

  const element = h(
    "section",
    { class: "card" },
    stepper(2),
    screenHeader("Set up your authenticator", "Scan the code with an authenticator app (Google Authenticator, 1Password, Aegis…), then enter the code it shows."),
    message.element,
    setupArea,
    form("Confirm authenticator", onSubmit, code.element, submit),
    h(
      "p",
      { class: "fineprint" },
      icon([...ICONS.shield], "icon icon-sm"),
      ` Finish before ${timeOfDay(enrollment.expiresAt)}, or registration starts over.`,
    ),
  );
  void load();
  return {
    element,
    title: "Set up authenticator",
    dispose: () => disposeSetup?.(),
  };
}
