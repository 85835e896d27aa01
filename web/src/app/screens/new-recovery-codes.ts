/**
 * New recovery codes, made from the Security page: shown this once, the old ones already dead.
 * Not replaced when the session ends elsewhere (the codes would be lost), and leaving the page asks
 * for confirmation until the person says they stored them.
 */
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { button, screenHeader } from "../ui/components.js";
import { h } from "../ui/dom.js";
import { recoveryCodesPanel, warnBeforeLeaving } from "../ui/recovery-codes-panel.js";

export function newRecoveryCodesScreen(ui: Ui, route: Extract<Route, { name: "new-recovery-codes" }>): Screen {
  const { codes, username } = route;
  const proceed = button("Done", {
    block: true,
    onClick: () =>
      ui.sessions.current.status === "signed-in"
        ? ui.go({ name: "security", flash: { tone: "success", message: "Your new recovery codes are ready. The old ones no longer work." } })
        : ui.go({ name: "login", username }),
  });
  proceed.disabled = true;
  const stored = h("input", {
    type: "checkbox",
    id: "codes-stored",
    class: "checkbox",
    onchange: () => {
      proceed.disabled = !stored.checked;
    },
  });
  const stopWarning = warnBeforeLeaving(() => stored.checked);

  const element = h(
    "section",
    { class: "card" },
    screenHeader("Your new recovery codes", "Your old recovery codes no longer work. Each of these lets you log in once if you lose your authenticator. This is the only time they are shown."),
    ...recoveryCodesPanel(username, codes),
    h("div", { class: "check-row" }, stored, h("label", { for: "codes-stored" }, "I have stored my new recovery codes somewhere safe")),
    proceed,
  );
  return { element, title: "New recovery codes", dispose: stopWarning };
}
