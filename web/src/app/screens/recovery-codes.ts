/**
 * Registration, step 3 of 3: the recovery codes, shown this once. Copy and download are offered;
 * leaving asks for confirmation until the person says they stored them.
 */
import type { Screen, Ui } from "../app.js";
import type { Route } from "../routes.js";
import { button, screenHeader, stepper } from "../ui/components.js";
import { h, icon, ICONS } from "../ui/dom.js";

export function recoveryCodesScreen(ui: Ui, route: Extract<Route, { name: "recovery-codes" }>): Screen {
  const { codes, username } = route;
  const status = h("span", { class: "copied", role: "status" });
  const text = recoveryCodesText(username, codes);

  const proceed = button("Continue to log in", {
    type: "button",
    block: true,
    onClick: () =>
      ui.go({ name: "login", username, flash: { tone: "success", message: "Your account is ready. Log in to continue." } }),
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

  const onBeforeUnload = (event: BeforeUnloadEvent) => {
    if (stored.checked) return;
    event.preventDefault();
    event.returnValue = "";
  };
  window.addEventListener("beforeunload", onBeforeUnload);

  const element = h(
    "section",
    { class: "card" },
    stepper(3),
    screenHeader("Save your recovery codes", "If you lose your authenticator, each code lets you log in once. This is the only time they are shown."),
    h("ol", { class: "codes", "aria-label": "Recovery codes" }, ...codes.map((code) => h("li", { class: "code" }, code))),
    h(
      "div",
      { class: "inline-actions" },
      button("Copy", {
        variant: "secondary",
        iconPaths: ICONS.copy,
        onClick: () => {
          void navigator.clipboard.writeText(codes.join("\n")).then(
            () => (status.textContent = "Codes copied to the clipboard"),
            () => (status.textContent = "Copy failed: select the codes and copy them by hand"),
          );
        },
      }),
      button("Download .txt", {
        variant: "secondary",
        iconPaths: ICONS.download,
        onClick: () => {
          download(`cypher-recovery-codes-${username}.txt`, text);
          status.textContent = "Codes downloaded";
        },
      }),
      status,
    ),
    h(
      "div",
      { class: "callout" },
      icon([...ICONS.key]),
      h("p", {}, "Keep them somewhere safe and separate from this device: a password manager or a printed copy."),
    ),
    h("div", { class: "check-row" }, stored, h("label", { for: "codes-stored" }, "I have stored my recovery codes somewhere safe")),
    proceed,
  );
  return {
    element,
    title: "Recovery codes",
    dispose: () => window.removeEventListener("beforeunload", onBeforeUnload),
  };
}

export function recoveryCodesText(username: string, codes: string[]): string {
  return [
    `Cypher recovery codes for ${username}`,
    `Saved ${new Date().toISOString().slice(0, 10)}. Each code works once.`,
    "",
    ...codes,
    "",
  ].join("\n");
}

function download(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = h("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Give the download a moment to start before the URL goes away.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
