/**
 * Serves the built browser app (web/dist) on every path that is not an RPC: the transport's
 * `fallback`. Works for HTTP/1.1 and HTTP/2 requests alike.
 *
 * - Only the files a build produces are served, looked up by exact path in a fixed table: no path
 *   from a request ever reaches the file system, so there is nothing to traverse. `/` is
 *   index.html; every other path is 404.
 * - Every response carries a strict Content-Security-Policy (no inline script, scripts from this
 *   origin only, no plugins, no framing, no <base>), nosniff, no referrer, COOP/CORP same-origin
 *   and a Permissions-Policy that turns off sensors, camera and the like.
 * - Files are read on first use and again when they change on disk (a rebuild needs no restart),
 *   compressed once (brotli, gzip), and revalidated by ETag: `Cache-Control: no-cache`, because
 *   the names do not change between builds.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type http from "node:http";
import type http2 from "node:http2";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import type { Logger } from "../logger.js";
import { PROJECT_ROOT } from "../project-root.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
export type StaticAppHandler = (req: Request, res: Response) => void;

/** Where `npm run build:web` (and `npm start`, see main.ts) writes the app: <project>/web/dist. */
export const DEFAULT_WEB_DIST_DIR = path.join(PROJECT_ROOT, "web", "dist");

export interface StaticAppOptions {
  /** The folder `web/build.ts` writes; DEFAULT_WEB_DIST_DIR in production use. */
  distDir: string;
  logger: Logger;
}

interface Asset {
  file: string;
  contentType: string;
}

/** Request path -> built file. Nothing else is ever served. */
export const STATIC_APP_ROUTES: ReadonlyMap<string, Asset> = new Map([
  ["/", { file: "index.html", contentType: "text/html; charset=utf-8" }],
  ["/index.html", { file: "index.html", contentType: "text/html; charset=utf-8" }],
  ["/app.js", { file: "app.js", contentType: "text/javascript; charset=utf-8" }],
  ["/app.css", { file: "app.css", contentType: "text/css; charset=utf-8" }],
  ["/favicon.svg", { file: "favicon.svg", contentType: "image/svg+xml" }],
]);

/**
 * The policy for the app. img-src allows data: and blob: for the TOTP QR code (PNG bytes from
 * SetupTotp shown through a blob: URL); connect-src 'self' is where the RPCs go. Trusted Types are
 * required and no policy may be created: no string ever becomes HTML or script.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

export const PERMISSIONS_POLICY = [
  "accelerometer=()",
  "camera=()",
  "geolocation=()",
  "gyroscope=()",
  "magnetometer=()",
  "microphone=()",
  "payment=()",
  "usb=()",
].join(", ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": PERMISSIONS_POLICY,
};

const HSTS = "max-age=63072000; includeSubDomains";

interface Loaded {
  mtimeMs: number;
  size: number;
  identity: Buffer;
  gzip: Buffer;
  brotli: Buffer;
  etag: string;
}

export function createStaticAppHandler(options: StaticAppOptions): StaticAppHandler {
  const distDir = path.resolve(options.distDir);
  const logger = options.logger.child({ component: "web" });
  const cache = new Map<string, Loaded>();
  let warnedMissing = false;

  async function load(file: string): Promise<Loaded | null> {
    const full = path.join(distDir, file);
    let info;
    try {
      info = await stat(full);
    } catch {
      return null;
    }
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached;
    const identity = await readFile(full);
    const loaded: Loaded = {
      mtimeMs: info.mtimeMs,
      size: info.size,
      identity,
      gzip: gzipSync(identity, { level: 9 }),
      brotli: brotliCompressSync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } }),
      etag: `"${createHash("sha256").update(identity).digest("base64url").slice(0, 27)}"`,
    };
    cache.set(file, loaded);
    return loaded;
  }

  async function handle(req: Request, res: Response): Promise<void> {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    const asset = STATIC_APP_ROUTES.get(pathname);
    setSecurityHeaders(req, res);
    if (!asset) return sendText(req, res, 404, "Not found");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return sendText(req, res, 405, "Method not allowed");
    }
    const loaded = await load(asset.file);
    if (!loaded) {
      if (!warnedMissing) {
        warnedMissing = true;
        logger.warn("web app is not built; run `npm run build:web`", { distDir });
      }
      res.setHeader("retry-after", "10");
      return sendText(req, res, 503, "The Cypher web app has not been built yet. Run: npm run build:web");
    }

    const encoding = chooseEncoding(headerValue(req.headers["accept-encoding"]));
    const body = encoding === "br" ? loaded.brotli : encoding === "gzip" ? loaded.gzip : loaded.identity;
    const etag = encoding === "identity" ? loaded.etag : `${loaded.etag.slice(0, -1)}-${encoding}"`;
    res.setHeader("content-type", asset.contentType);
    res.setHeader("cache-control", "no-cache");
    res.setHeader("etag", etag);
    res.setHeader("vary", "accept-encoding");
    if (ifNoneMatch(headerValue(req.headers["if-none-match"]), etag)) {
      res.writeHead(304);
      res.end();
      return;
    }
    if (encoding !== "identity") res.setHeader("content-encoding", encoding);
    res.setHeader("content-length", String(body.length));
    res.writeHead(200);
    if (req.method === "HEAD") res.end();
    else res.end(body);
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error("serving the web app failed", { error, path: (req.url ?? "").slice(0, 200) });
      if (!res.headersSent) sendText(req, res, 500, "Internal error");
      else res.end();
    });
  };
}

function setSecurityHeaders(req: Request, res: Response): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  if ((req.socket as TLSSocket | undefined)?.encrypted) res.setHeader("strict-transport-security", HSTS);
}

function sendText(req: Request, res: Response, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`, "utf8");
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.setHeader("content-length", String(body.length));
  res.writeHead(status);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

function headerValue(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

/** br if the client takes it, then gzip, else none (q=0 means "not this one"). */
export function chooseEncoding(acceptEncoding: string): "br" | "gzip" | "identity" {
  const accepted = new Set<string>();
  for (const part of acceptEncoding.toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (name && !(q && Number(q.slice(2)) === 0)) accepted.add(name.trim());
  }
  if (accepted.has("br")) return "br";
  if (accepted.has("gzip")) return "gzip";
  return "identity";
}

function ifNoneMatch(header: string, etag: string): boolean {
  if (header === "") return false;
  return header.split(",").some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, "");
    return tag === "*" || tag === etag;
  });
}
