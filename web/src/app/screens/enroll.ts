/**
 * Registration, step 2 of 3: the authenticator (QR code and key: ui/totp-setup.ts). Confirming a
 * current code activates the account.
 */
import { describeError, EXPIRED_ENROLLMENT_MESSAGE } from "../../client/error-messages.js";
import { FlowError } from "../../client/flow-error.js";
import { confirmTotp, normalizeTotpCode, setupTotp } from "../../client/register.js";
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { busy, button, form, notice, screenHeader, stepper, totpCodeField } from "../ui/components.js";
import { showCodeFailure } from "../ui/code-failure.js";
import { h, icon, ICONS } from "../ui/dom.js";
import { timeOfDay } from "../ui/format.js";
import { totpSetupArea } from "../ui/totp-setup.js";

export function enrollScreen(ui: Ui, route: Extract<Route, { name: "enroll" }>): Screen {
  const { enrollment } = route;
  const message = notice();
  const code = totpCodeField("6-digit code", "The code changes every 30 seconds.");
  const submit = button("Confirm and activate", { type: "submit", block: true });
  submit.disabled = true;
  const setupArea = totpSetupArea(() => setupTotp(ui.clients, enrollment), {
    loaded: () => {
      submit.disabled = false;
    },
    failed: (err) => {
      const described = describeError(err, "enroll");
      if (described.recovery === "restart") return ui.go({ name: "register", flash: { tone: "error", message: EXPIRED_ENROLLMENT_MESSAGE } });
      message.show("error", described.message);
    },
  });

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
    setupArea.element,
    form("Confirm authenticator", onSubmit, code.element, submit),
    h(
      "p",
      { class: "fineprint" },
      icon([...ICONS.shield], "icon icon-sm"),
      ` Finish before ${timeOfDay(enrollment.expiresAt)}, or registration starts over.`,
    ),
  );
  void setupArea.load();
  return { element, title: "Set up authenticator", dispose: setupArea.dispose };
}
