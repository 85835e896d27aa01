/**
 * Recovery codes on screen, shown once: the list, copy and download buttons, the advice on where
 * to keep them, and the check that they are stored. Used after registration and after new codes
 * are made on the Security page.
 */
import { button } from "./components.js";
import { h, icon, ICONS } from "./dom.js";

export function recoveryCodesPanel(username: string, codes: string[]): Node[] {
  const status = h("span", { class: "copied", role: "status" });
  const text = recoveryCodesText(username, codes);
  return [
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
  ];
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

/**
 * The checkbox a person ticks once the codes are stored: until then `proceed` stays disabled and
 * leaving the page asks for confirmation. `dispose` stops asking.
 */
export function codesStoredCheck(label: string, proceed: HTMLButtonElement): { element: HTMLElement; dispose: () => void } {
  proceed.disabled = true;
  const stored = h("input", {
    type: "checkbox",
    id: "codes-stored",
    class: "checkbox",
    onchange: () => {
      proceed.disabled = !stored.checked;
    },
  });
  return {
    element: h("div", { class: "check-row" }, stored, h("label", { for: "codes-stored" }, label)),
    dispose: warnBeforeLeaving(() => stored.checked),
  };
}

/**
 * Leaving the page asks for confirmation until `stored()` says the codes are kept; returns the
 * function that stops asking.
 */
function warnBeforeLeaving(stored: () => boolean): () => void {
  const onBeforeUnload = (event: BeforeUnloadEvent) => {
    if (stored()) return;
    event.preventDefault();
    event.returnValue = "";
  };
  window.addEventListener("beforeunload", onBeforeUnload);
  return () => window.removeEventListener("beforeunload", onBeforeUnload);
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
