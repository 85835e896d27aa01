/**
 * Headers every answer on the public port carries unless the handler sets its own (the web app
 * sets a fuller policy for its pages): an RPC answer is never sniffed as HTML, never framed, never
 * cached (it may hold tokens), and never sends a Referer anywhere.
 */
import type { RequestHandler } from "./connection-tracker.js";

export const DEFAULT_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export function withSecurityHeaders(handler: RequestHandler): RequestHandler {
  return (req, res) => {
    for (const [name, value] of Object.entries(DEFAULT_SECURITY_HEADERS)) res.setHeader(name, value);
    handler(req, res);
  };
}
