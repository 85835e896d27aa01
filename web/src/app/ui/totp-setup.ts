/**
 * A new authenticator secret on screen: the QR code (PNG bytes shown through a blob: URL, which the
 * CSP allows), the secret as text for typing by hand, a copy button and an otpauth: link for an
 * authenticator app on this very device, and the area that waits for it. Used by enrollment and by
 * the authenticator replacement.
 */
import type { TotpSetup } from "../../client/register.js";
import { button } from "./components.js";
import { h, ICONS, replaceChildren } from "./dom.js";

export interface TotpSetupView {
  nodes: Node[];
  /** Frees the QR code's blob: URL. */
  dispose(): void;
}

export function totpSetupView(setup: TotpSetup): TotpSetupView {
  const qrUrl = URL.createObjectURL(new Blob([new Uint8Array(setup.qrCodePng)], { type: "image/png" }));
  const copied = h("span", { class: "copied", role: "status" });
  const nodes = [
    h("div", { class: "qr-frame" }, h("img", { class: "qr", src: qrUrl, width: 196, height: 196, alt: "QR code to add your Cypher account to an authenticator app" })),
    h(
      "div",
      { class: "secret-block" },
      h("p", { class: "label", id: "secret-label" }, "Can't scan it? Enter this key instead:"),
      h("p", { class: "secret", "aria-labelledby": "secret-label", "data-secret": setup.secret }, groupSecret(setup.secret)),
      h(
        "div",
        { class: "inline-actions" },
        button("Copy key", {
          variant: "secondary",
          iconPaths: ICONS.copy,
          onClick: () => {
            void navigator.clipboard.writeText(setup.secret).then(
              () => (copied.textContent = "Key copied"),
              () => (copied.textContent = "Copy failed: select the key and copy it by hand"),
            );
          },
        }),
        copied,
      ),
      // On a phone the authenticator app is on this device: a tap adds the account.
      h("a", { class: "otpauth-link", href: setup.otpauthUri }, "Open in an authenticator app on this device"),
    ),
  ];
  return { nodes, dispose: () => URL.revokeObjectURL(qrUrl) };
}

export interface TotpSetupArea {
  element: HTMLElement;
  /** Asks for the secret and shows it; on failure a "Try again" button stands in its place. */
  load(): Promise<void>;
  /** Frees the QR code's blob: URL, if one is shown. */
  dispose(): void;
}

/**
 * Where a screen shows a new secret: a spinner until `fetchSetup` answers, then the secret
 * (`loaded` follows, to enable the confirmation); when it fails, `failed` says why.
 */
export function totpSetupArea(
  fetchSetup: () => Promise<TotpSetup>,
  on: { loaded: () => void; failed: (err: unknown) => void | Promise<void> },
): TotpSetupArea {
  const element = h("div", { class: "totp-setup", "aria-busy": "true" }, h("div", { class: "qr-frame qr-loading" }, h("div", { class: "spinner" })));
  let view: TotpSetupView | undefined;

  async function load(): Promise<void> {
    try {
      view = totpSetupView(await fetchSetup());
      replaceChildren(element, ...view.nodes);
      element.removeAttribute("aria-busy");
      on.loaded();
    } catch (err) {
      replaceChildren(element, button("Try again", { variant: "secondary", onClick: () => void load() }));
      element.removeAttribute("aria-busy");
      await on.failed(err);
    }
  }

  return { element, load, dispose: () => view?.dispose() };
}

/** "JBSW Y3DP EHPK 3PXP": easier to read and type than one long run. */
function groupSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}
