/**
 * Registration, step 3 of 3: the recovery codes, shown this once. Copy and download are offered;
 * leaving asks for confirmation until the person says they stored them.
 */
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { button, screenHeader, stepper } from "../ui/components.js";
import { h } from "../ui/dom.js";
import { codesStoredCheck, recoveryCodesPanel } from "../ui/recovery-codes-panel.js";

export function recoveryCodesScreen(ui: Ui, route: Extract<Route, { name: "recovery-codes" }>): Screen {
  const { codes, username } = route;

  const proceed = button("Continue to log in", {
    type: "button",
    block: true,
    onClick: () =>
      ui.go({ name: "login", username, flash: { tone: "success", message: "Your account is ready. Log in to continue." } }),
  });
  const stored = codesStoredCheck("I have stored my recovery codes somewhere safe", proceed);

  const element = h(
    "section",
    { class: "card" },
    stepper(3),
    screenHeader("Save your recovery codes", "If you lose your authenticator, each code lets you log in once. This is the only time they are shown."),
    ...recoveryCodesPanel(username, codes),
    stored.element,
    proceed,
  );
  return { element, title: "Recovery codes", dispose: stored.dispose };
}
