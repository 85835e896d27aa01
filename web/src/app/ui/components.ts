/**
 * The app's building blocks: labelled fields with hints and errors wired for screen readers,
 * buttons that show they are busy, and a notice area that announces itself.
 */
import { h, icon, ICONS, replaceChildren } from "./dom.js";

let nextId = 0;
function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

export interface FieldOptions {
  label: string;
  name: string;
  type?: "text" | "password";
  autocomplete?: string;
  hint?: string;
  inputmode?: "numeric" | "text";
  value?: string;
  placeholder?: string;
  maxlength?: number;
  monospace?: boolean;
  /** Adds a Show/Hide button for password fields. */
  revealable?: boolean;
}

export interface Field {
  element: HTMLElement;
  input: HTMLInputElement;
  setError(message: string | null): void;
  value(): string;
}

export function field(options: FieldOptions): Field {
  const id = uid(options.name);
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const input = h("input", {
    id,
    name: options.name,
    type: options.type ?? "text",
    class: options.monospace ? "input input-mono" : "input",
    autocomplete: options.autocomplete,
    inputmode: options.inputmode,
    placeholder: options.placeholder,
    maxlength: options.maxlength,
    value: options.value,
    required: true,
    autocapitalize: "none",
    spellcheck: "false",
    "aria-describedby": options.hint ? hintId : undefined,
  });
  const error = h("p", { id: errorId, class: "field-error", hidden: true });
  const control = options.revealable ? revealableControl(input) : input;
  const element = h(
    "div",
    { class: "field" },
    h("label", { class: "label", for: id }, options.label),
    control,
    options.hint ? h("p", { id: hintId, class: "hint" }, options.hint) : null,
    error,
  );
  return {
    element,
    input,
    value: () => input.value,
    setError(message) {
      if (message === null) {
        error.hidden = true;
        error.textContent = "";
        input.removeAttribute("aria-invalid");
        input.setAttribute("aria-describedby", options.hint ? hintId : "");
        if (!options.hint) input.removeAttribute("aria-describedby");
        return;
      }
      replaceChildren(error, icon([...ICONS.alert], "icon icon-sm"), h("span", {}, message));
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", [errorId, options.hint ? hintId : ""].join(" ").trim());
    },
  };
}

function revealableControl(input: HTMLInputElement): HTMLElement {
  const toggle = h(
    "button",
    {
      type: "button",
      class: "reveal",
      "aria-pressed": "false",
      "aria-controls": input.id,
      onclick: () => {
        const show = input.type === "password";
        input.type = show ? "text" : "password";
        toggle.textContent = show ? "Hide" : "Show";
        toggle.setAttribute("aria-pressed", String(show));
        toggle.setAttribute("aria-label", show ? "Hide password" : "Show password");
      },
      "aria-label": "Show password",
    },
    "Show",
  );
  return h("div", { class: "input-group" }, input, toggle);
}

export type ButtonVariant = "primary" | "secondary" | "ghost" | "danger" | "link";

export function button(
  label: string,
  options: { variant?: ButtonVariant; type?: "button" | "submit"; onClick?: () => void; iconPaths?: readonly string[]; block?: boolean; name?: string } = {},
): HTMLButtonElement {
  const classes = ["button", `button-${options.variant ?? "primary"}`, options.block ? "button-block" : ""].filter(Boolean).join(" ");
  return h(
    "button",
    { type: options.type ?? "button", class: classes, name: options.name, onclick: options.onClick ? () => options.onClick?.() : undefined },
    options.iconPaths ? icon([...options.iconPaths]) : null,
    h("span", { class: "button-label" }, label),
  );
}

/** Marks a button busy (disabled, spinner, new label) until the returned function is called. */
export function busy(btn: HTMLButtonElement, label: string): () => void {
  const labelEl = btn.querySelector(".button-label");
  const before = labelEl?.textContent ?? "";
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  btn.classList.add("is-busy");
  if (labelEl) labelEl.textContent = label;
  return () => {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
    btn.classList.remove("is-busy");
    if (labelEl) labelEl.textContent = before;
  };
}

export type NoticeTone = "error" | "success" | "info";

/** A message area: errors are announced assertively, the rest politely. */
export interface Notice {
  element: HTMLElement;
  show(tone: NoticeTone, message: string): void;
  clear(): void;
}

export function notice(): Notice {
  const element = h("div", { class: "notice-slot" });
  return {
    element,
    show(tone, message) {
      const paths = tone === "error" ? ICONS.alert : tone === "success" ? ICONS.check : ICONS.shield;
      replaceChildren(
        element,
        h("div", { class: `notice notice-${tone}`, role: tone === "error" ? "alert" : "status" }, icon([...paths]), h("p", {}, message)),
      );
    },
    clear() {
      element.replaceChildren();
    },
  };
}

/**
 * A screen's form: the browser's own validation is off (the screens check and word the errors), and
 * submitting (Enter or the submit button) calls `onSubmit` instead of loading a page.
 */
export function form(label: string, onSubmit: () => Promise<void>, ...children: (Node | null)[]): HTMLFormElement {
  return h(
    "form",
    {
      class: "form",
      novalidate: true,
      "aria-label": label,
      onsubmit: (event) => {
        event.preventDefault();
        void onSubmit();
      },
    },
    ...children,
  );
}

/** The field for a 6-digit authenticator code (a pasted "123 456" fits: hence 7). */
export function totpCodeField(label: string, hint?: string): Field {
  return field({ label, name: "totp-code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, placeholder: "123456", monospace: true, hint });
}

/** The heading every screen starts with; focus moves here when the screen appears. */
export function screenHeader(title: string, subtitle?: string | Node): HTMLElement {
  return h(
    "header",
    { class: "screen-header" },
    h("h1", { class: "title", tabindex: "-1" }, title),
    subtitle ? h("p", { class: "subtitle" }, subtitle) : null,
  );
}

/** Registration's three steps, with the current one marked for assistive technology. */
export function stepper(current: 1 | 2 | 3): HTMLElement {
  const steps = ["Account", "Authenticator", "Recovery codes"];
  return h(
    "div",
    { class: "stepper" },
    // Phones show this one line instead of the three labels (which would not fit).
    h("p", { class: "stepper-caption", "aria-hidden": "true" }, `Step ${current} of ${steps.length} · ${steps[current - 1]}`),
    h(
      "ol",
      { class: "stepper-steps", "aria-label": `Step ${current} of ${steps.length}` },
      ...steps.map((label, i) =>
        h(
          "li",
          { class: i + 1 < current ? "step step-done" : i + 1 === current ? "step step-current" : "step", "aria-current": i + 1 === current ? "step" : undefined },
          h("span", { class: "step-label" }, label),
        ),
      ),
    ),
  );
}
