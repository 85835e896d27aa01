/** The signed-in pages side by side: the devices (sessions) and the account's security. */
import type { Ui } from "../app.js";
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
