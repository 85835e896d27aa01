import type { Screen } from "../app.js";
import { h } from "../ui/dom.js";

/** Shown while the app finds out whether this browser is logged in (usually a blink). */
export function loadingScreen(): Screen {
  return {
    title: "Loading",
    element: h(
      "section",
      { class: "card card-center", "aria-busy": "true" },
      h("div", { class: "spinner", "aria-hidden": "true" }),
      h("h1", { class: "visually-hidden", tabindex: "-1" }, "Loading"),
      h("p", { class: "muted" }, "Checking your session…"),
    ),
  };
}
