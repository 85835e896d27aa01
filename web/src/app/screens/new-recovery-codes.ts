/**
 * New recovery codes, made from the Security page: shown this once, the old ones already dead.
 * Not replaced when the session ends elsewhere (the codes would be lost), and leaving the page asks
 * for confirmation until the person says they stored them.
 */
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { button, screenHeader } from "../ui/components.js";
import { h } from "../ui/dom.js";
import { codesStoredCheck, recoveryCodesPanel } from "../ui/recovery-codes-panel.js";

export function newRecoveryCodesScreen(ui: Ui, route: Extract<Route, { name: "new-recovery-codes" }>): Screen {
  const { codes, username } = route;
  const proceed = button("Done", {
    block: true,
    onClick: () =>
      ui.sessions.current.status === "signed-in"
        ? ui.go({ name: "security", flash: { tone: "success", message: "Your new recovery codes are ready. The old ones no longer work." } })
        : ui.go({ name: "login", username }),
  });
  const stored = codesStoredCheck("I have stored my new recovery codes somewhere safe", proceed);

  const element = h(
    "section",
    { class: "card" },
    screenHeader("Your new recovery codes", "Your old recovery codes no longer work. Each of these lets you log in once if you lose your authenticator. This is the only time they are shown."),
    ...recoveryCodesPanel(username, codes),
    stored.element,
    proceed,
  );
  return { element, title: "New recovery codes", dispose: stored.dispose };
}
