/**
 * Cross-origin calls from browsers. Same origin (the web app Cypher serves) needs nothing; other
 * origins get in only when listed in CORS_ORIGINS (config.corsOrigins, default none).
 *
 * - An allowed origin's preflight is answered here (204) with the methods and headers Connect-Web
 *   and gRPC-Web clients send; its calls get `Access-Control-Allow-Origin: <origin>` and
 *   credentials (the HttpOnly refresh cookie), and may read the gRPC/Connect status headers.
 * - Any other cross-origin request is refused with 403 before it reaches a handler: a browser
 *   would hide the answer anyway, and refusing means a page elsewhere cannot even make the call
 *   (defence in depth on top of SameSite=Strict and the non-simple content types).
 * - Requests without an Origin header (backends, grpcurl, curl) are not affected.
 */
import type http from "node:http";
import type http2 from "node:http2";
import type { RequestHandler } from "./connection-tracker.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** Request headers the Connect-Web and gRPC-Web clients (and the Cypher web client) send. */
export const CORS_ALLOWED_HEADERS = [
  "content-type",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "authorization",
  "x-cypher-client",
  "x-grpc-web",
  "x-user-agent",
  "grpc-timeout",
];

/** Response headers a cross-origin client must be able to read to learn a call's outcome. */
export const CORS_EXPOSED_HEADERS = [
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-encoding",
  "connect-content-encoding",
  "retry-after",
];

export const CORS_ALLOWED_METHODS = ["POST", "GET"];
/** How long a browser may cache a preflight answer. */
export const CORS_MAX_AGE_SECONDS = 7200;

export interface CorsOptions {
  /** Bare origins (`https://app.example.com`) allowed besides the server's own. */
  allowedOrigins: readonly string[];
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether `origin` names the host the request was sent to (the page Cypher served itself). */
export function isSameOrigin(req: Request, origin: string): boolean {
  const host = header(req, ":authority") ?? header(req, "host");
  if (!host) return false;
  try {
    // The scheme may differ behind a TLS-terminating proxy; the host and port decide.
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

export function withCors(handler: RequestHandler, options: CorsOptions): RequestHandler {
  const allowed = new Set(options.allowedOrigins);
  return (req, res) => {
    const origin = header(req, "origin");
    if (origin === undefined || isSameOrigin(req, origin)) return handler(req, res);
    const preflight = req.method === "OPTIONS" && header(req, "access-control-request-method") !== undefined;
    if (!allowed.has(origin)) return refuse(res, preflight);
    res.setHeader("vary", "origin");
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("access-control-allow-credentials", "true");
    if (preflight) {
      res.setHeader("access-control-allow-methods", CORS_ALLOWED_METHODS.join(", "));
      res.setHeader("access-control-allow-headers", CORS_ALLOWED_HEADERS.join(", "));
      res.setHeader("access-control-max-age", String(CORS_MAX_AGE_SECONDS));
      res.writeHead(204);
      res.end();
      return;
    }
    res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
    return handler(req, res);
  };
}

function refuse(res: Response, preflight: boolean): void {
  res.setHeader("vary", "origin");
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.writeHead(403);
  res.end(preflight ? "" : "cross-origin request refused\n");
}
