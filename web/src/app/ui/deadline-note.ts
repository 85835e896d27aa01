/** The step-up lasts five minutes: the change screens say until when. */
import { h, icon, ICONS } from "./dom.js";
import { timeOfDay } from "./format.js";

export function deadlineNote(expiresAt: Date): HTMLElement {
  return h("p", { class: "fineprint" }, icon([...ICONS.shield], "icon icon-sm"), ` Finish before ${timeOfDay(expiresAt)}, or confirm it's you again.`);
}
