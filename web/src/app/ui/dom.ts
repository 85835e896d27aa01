/**
 * A tiny element builder. Everything goes through createElement, setAttribute and text nodes: no
 * HTML strings, so nothing a server or a person types can ever become markup (and the strict CSP
 * needs no 'unsafe-inline': no inline handlers, no style attributes).
 */

type Child = Node | string | null | undefined | false;
type Handler<E extends Event = Event> = (event: E) => void;

export interface Attrs {
  class?: string;
  id?: string;
  hidden?: boolean;
  disabled?: boolean;
  onclick?: Handler<MouseEvent>;
  onsubmit?: Handler<SubmitEvent>;
  oninput?: Handler;
  onchange?: Handler;
  onkeydown?: Handler<KeyboardEvent>;
  [attribute: string]: string | number | boolean | undefined | Handler<never>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(name.slice(2), value as EventListener);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** A small inline icon from path data (decorative: hidden from assistive technology). */
export function icon(paths: string[], className = "icon"): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

export const ICONS = {
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  alert: ["M12 8v5", "M12 16.5v.5", "M10.3 3.9L2.4 18a2 2 0 001.7 3h15.8a2 2 0 001.7-3L13.7 3.9a2 2 0 00-3.4 0z"],
  device: ["M4 5h16v10H4z", "M2 19h20", "M9 15v4", "M15 15v4"],
  phone: ["M8 3h8a1 1 0 011 1v16a1 1 0 01-1 1H8a1 1 0 01-1-1V4a1 1 0 011-1z", "M11 18h2"],
  refresh: ["M20 11a8 8 0 10-2.3 5.7", "M20 5v6h-6"],
  key: ["M14.5 9.5a4 4 0 11-4-4", "M10.5 13.5L4 20", "M7 17l2 2", "M14.5 5.5l4 4"],
  shield: ["M12 3l7 3v6c0 4.5-3 7.5-7 9-4-1.5-7-4.5-7-9V6z", "M9 12l2 2 4-4"],
  logout: ["M15 4h4v16h-4", "M10 8l-4 4 4 4", "M6 12h10"],
} as const;
