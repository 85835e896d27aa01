/**
 * PUBLIC_HOSTS: the host names the public port answers to (DNS rebinding). A page on an attacker's
 * domain whose name is re-pointed at this server reaches it from the victim's browser with the
 * attacker's name in the Host header, where CORS and SameSite cookies see the same origin. When a
 * list is set, a request whose Host (HTTP/1.1) or :authority (HTTP/2) names another host, or none,
 * is refused with 421 Misdirected Request before any handler runs.
 *
 * The host NAME is compared, case-insensitively and without a trailing dot; the port is ignored
 * (the port a client used depends on proxies and port mappings, the name is what rebinding forges).
 * IPv6 literals are compared in their bracketed form ("[2001:db8::1]").
 */
import type http from "node:http";
import type { RequestHandler } from "./connection-tracker.js";

/** The host name of a Host / :authority value, lower case, without port or trailing dot; null if absent. */
export function hostNameOf(authority: string | undefined): string | null {
  if (authority === undefined) return null;
  const value = authority.trim().toLowerCase();
  let name: string;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) return null;
    name = value.slice(0, end + 1);
  } else {
    const colon = value.indexOf(":");
    name = colon < 0 ? value : value.slice(0, colon);
  }
  name = name.replace(/\.$/, "");
  return name === "" ? null : name;
}

/** Refuses requests for hosts not in `allowed` (already normalized by config.ts); no check when empty. */
export function withHostAllowlist(handler: RequestHandler, allowed: readonly string[]): RequestHandler {
  if (allowed.length === 0) return handler;
  const hosts = new Set(allowed);
  return (req, res) => {
    const headers = req.headers as http.IncomingHttpHeaders & { ":authority"?: string };
    const name = hostNameOf(headers[":authority"] ?? headers.host);
    if (name !== null && hosts.has(name)) {
      handler(req, res);
      return;
    }
    res.writeHead(421, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    res.end("misdirected request\n");
  };
}
