/** The signed-in pages side by side (the devices, the account's security), and the way back to Security. */
import type { Ui } from "../app.js";
import { button } from "./components.js";
import { h } from "./dom.js";

export function accountNav(ui: Ui, current: "sessions" | "security"): HTMLElement {
  const link = (name: "sessions" | "security", label: string) =>
    h(
      "button",
      {
        type: "button",
        class: name === current ? "tab tab-current" : "tab",
        "aria-current": name === current ? "page" : undefined,
        onclick: () => {
          if (name !== current) ui.go({ name });
        },
      },
      label,
    );
  return h("nav", { class: "tabs", "aria-label": "Account" }, link("sessions", "Devices"), link("security", "Security"));
}

/** The way back from a change on the Security page without making it. */
export function cancelToSecurity(ui: Ui): HTMLElement {
  return h("div", { class: "switch" }, button("Cancel", { variant: "link", onClick: () => ui.go({ name: "security" }) }));
}
