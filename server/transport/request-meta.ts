/**
 * Who is calling: the client IP and user agent, for attempt limits and the audit log.
 * The listener attaches the peer address to every call through connect-node's `contextValues`;
 * handlers read it back with `requestMeta(ctx)`.
 *
 * Behind proxies (TRUST_PROXY = the number of them), the client is found in X-Forwarded-For by
 * counting from the END: each proxy appends the address it received the request from, so the
 * last `hops` entries were written by our proxies and everything before them by whoever sent the
 * request. The first entry is the client's own claim, never to be trusted.
 */
import { isIP } from "node:net";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { ClientContext } from "../client-context.js";

/** The domain's view of the caller (server/client-context.ts), built from the request. */
export type RequestMeta = ClientContext;

/** Set by the transport for each request: the socket's remote address. */
export const peerAddressKey = createContextKey<string>("unknown", { description: "peer address" });
/** Set by the transport: how many proxies in front of this server append to X-Forwarded-For (0: ignore it). */
export const trustedProxyHopsKey = createContextKey<number>(0, { description: "trusted X-Forwarded-For hops" });

export function requestMeta(ctx: HandlerContext): RequestMeta {
  const hops = ctx.values.get(trustedProxyHopsKey);
  const ip = clientAddress(ctx.values.get(peerAddressKey), hops > 0 ? ctx.requestHeader.get("x-forwarded-for") : null, hops);
  const userAgent = ctx.requestHeader.get("user-agent");
  return { ip, userAgent: userAgent ? userAgent.slice(0, 256) : null };
}

/**
 * The client's address: the `hops`-th X-Forwarded-For entry from the end when that is an IP
 * address, else the socket's address.
 *
 * A header with fewer entries than `hops` means the request passed fewer proxies than configured
 * (one of the inner ones was reached directly, or a proxy does not append): every entry present
 * was still written by a trusted proxy, so the first one, the farthest address any of them saw,
 * is taken. Anything that is not a syntactically valid IPv4 or IPv6 address (a port, a name,
 * markup) is ignored in favour of the socket's address, so it never reaches limits or logs.
 */
export function clientAddress(socketAddress: string, forwardedFor: string | null, hops: number): string {
  if (hops > 0 && forwardedFor !== null) {
    const entries = forwardedFor.split(",");
    const candidate = unmapped((entries[Math.max(0, entries.length - hops)] ?? "").trim());
    if (isIP(candidate) !== 0) return candidate;
  }
  return unmapped(socketAddress);
}

/** An IPv4-mapped IPv6 address ("::ffff:192.0.2.1") as the IPv4 address it is. */
function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
