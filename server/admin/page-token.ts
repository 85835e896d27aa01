/**
 * AIP-158 page tokens for AdminService's lists: opaque to clients, tamper-evident, and bound to the
 * request they continue.
 *
 *   <base64url(JSON payload)>.<base64url(first 16 bytes of HMAC-SHA-256(key, label ‖ payload))>
 *
 * The payload holds the list's name, the filter of the request that produced it (a token used with
 * a different filter is refused) and the keyset position to continue after. The key is derived from
 * the deployment's key material, so every instance accepts every instance's tokens. A token that was
 * altered, forged, cut short or made for another list or filter is InvalidArgument on `page_token`.
 * Not encrypted: it holds nothing the caller is not already shown on the page.
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { invalidArgument } from "../errors.js";

const MAC_BYTES = 16;
const MAX_TOKEN_CHARS = 2048;

/** Page sizes (AIP-158): 0 is the default, above the maximum is capped, negative is refused. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

export function pageSize(requested: number, field = "page_size"): number {
  if (requested < 0) throw invalidArgument({ field, description: "must not be negative" });
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

/** The page-token key, derived from the key material every instance shares. */
export function pageTokenKey(secret: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), "cypher admin page-token key v1", 32));
}

export class PageTokens {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  encode(list: string, filter: string, position: unknown): string {
    const body = Buffer.from(JSON.stringify({ l: list, f: filter, p: position }), "utf8").toString("base64url");
    return `${body}.${this.#mac(body).toString("base64url")}`;
  }

  /**
   * The position a token continues after, or undefined for the empty token (the first page).
   * Throws InvalidArgument (field `field`) for anything this server did not issue for this list and filter.
   */
  decode(token: string, list: string, filter: string, field = "page_token"): unknown {
    if (token === "") return undefined;
    const refuse = (description: string) => invalidArgument({ field, description });
    const dot = token.indexOf(".");
    if (token.length > MAX_TOKEN_CHARS || dot <= 0) throw refuse("is not a page token from this list");
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = this.#mac(body);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw refuse("is not a page token from this list");
    let payload: { l?: unknown; f?: unknown; p?: unknown };
    try {
      payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as typeof payload;
    } catch {
      throw refuse("is not a page token from this list");
    }
    if (payload.l !== list) throw refuse("is not a page token from this list");
    if (payload.f !== filter) throw refuse("belongs to a request with a different filter");
    return payload.p;
  }

  #mac(body: string): Buffer {
    return createHmac("sha256", this.#key).update(`cypher admin page v1\0${body}`).digest().subarray(0, MAC_BYTES);
  }
}
