/**
 * Who is calling: the client IP and user agent, for attempt limits and the audit log.
 * The listener attaches the peer address to every call through connect-node's `contextValues`;
 * handlers read it back with `requestMeta(ctx)`.
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

export interface RequestMeta {
  /** Client IP as seen by this server (or the first X-Forwarded-For hop when TRUST_PROXY is on). */
  ip: string;
  userAgent: string | null;
}

/** Set by the transport for each request: the socket's remote address. */
export const peerAddressKey = createContextKey<string>("unknown", { description: "peer address" });
/** Set by the transport: whether the first X-Forwarded-For hop is to be trusted. */
export const trustProxyKey = createContextKey<boolean>(false, { description: "trust X-Forwarded-For" });

export function requestMeta(ctx: HandlerContext): RequestMeta {
  let ip = ctx.values.get(peerAddressKey);
  if (ctx.values.get(trustProxyKey)) {
    const forwarded = ctx.requestHeader.get("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) ip = forwarded;
  }
  if (ip.startsWith("::ffff:")) ip = ip.slice("::ffff:".length);
  const userAgent = ctx.requestHeader.get("user-agent");
  return { ip, userAgent: userAgent ? userAgent.slice(0, 256) : null };
}
