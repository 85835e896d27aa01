/**
 * Typed Connect-Web clients for Cypher's two services, talking to the origin that served the page.
 *
 * Every request carries `x-cypher-client: web`: that is what tells SessionService to put the
 * refresh token in an HttpOnly cookie instead of the response body, so page JavaScript never sees it.
 */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

export { createCypherClients, type AuthClient, type CypherClients, type SessionClient } from "../../../client/cypher-clients.js";

export const WEB_CLIENT_HEADER = "x-cypher-client";
export const WEB_CLIENT_HEADER_VALUE = "web";

export interface TransportOptions {
  /** Where Cypher answers; the page's own origin by default. */
  baseUrl?: string;
  /** Run after the web-client header is set (the session manager's Bearer interceptor goes here). */
  interceptors?: Interceptor[];
  /** Per-call timeout; a login waits on server-side OPAQUE work, so this is generous. */
  defaultTimeoutMs?: number;
  /** For tests outside a browser. */
  fetch?: typeof globalThis.fetch;
}

/** Marks every request as coming from the browser app. */
export const webClientHeaderInterceptor: Interceptor = (next) => async (req) => {
  req.header.set(WEB_CLIENT_HEADER, WEB_CLIENT_HEADER_VALUE);
  return await next(req);
};

export function createCypherTransport(options: TransportOptions = {}): Transport {
  return createConnectTransport({
    baseUrl: options.baseUrl ?? globalThis.location.origin,
    // Binary keeps OPAQUE messages as raw bytes on the wire (no base64 detour) and bodies small.
    useBinaryFormat: true,
    interceptors: [webClientHeaderInterceptor, ...(options.interceptors ?? [])],
    defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
