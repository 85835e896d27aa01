/**
 * The static handler that serves the built web app: what it serves, what it refuses, and the
 * headers every answer carries. Runs over real HTTP/1.1 and h2c sockets against a temp dist folder.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../server/logger.js";
import { chooseEncoding, CONTENT_SECURITY_POLICY, createStaticAppHandler, DEFAULT_WEB_DIST_DIR, STATIC_APP_ROUTES } from "../../server/web/static-app.js";

const INDEX = '<!doctype html><title>Cypher</title><script type="module" src="/app.js"></script>';
const APP_JS = `console.log(${JSON.stringify("x".repeat(2000))});`;

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the path sent exactly as given (fetch would normalize "/../"). */
function raw(port: number, rawPath: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: rawPath, method: options.method ?? "GET", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

function expectSecurityHeaders(headers: http.IncomingHttpHeaders | Record<string, unknown>): void {
  expect(headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("no-referrer");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
  expect(headers["permissions-policy"]).toContain("camera=()");
}

describe("static web app handler", () => {
  let dir: string;
  let distDir: string;
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-static-"));
    distDir = path.join(dir, "dist");
    // A file next to dist that traversal would reach.
    writeFileSync(path.join(dir, "secret.txt"), "do not serve");
    mkdirSync(distDir);
    writeFileSync(path.join(distDir, "index.html"), INDEX);
    writeFileSync(path.join(distDir, "app.js"), APP_JS);
    writeFileSync(path.join(distDir, "app.css"), "body{margin:0}");
    writeFileSync(path.join(distDir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    writeFileSync(path.join(distDir, ".build-stamp.json"), "{}");
    writeFileSync(path.join(distDir, "notes.txt"), "not part of the app");
    server = http.createServer(createStaticAppHandler({ distDir, logger: silentLogger }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html at / with the CSP and security headers", async () => {
    const res = await raw(port, "/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.body.toString()).toBe(INDEX);
    expectSecurityHeaders(res.headers);
    expect(res.headers["strict-transport-security"]).toBeUndefined(); // plaintext: no HSTS
  });

  it("has a CSP without inline script, plugins, framing or <base>", () => {
    const directives = new Map(CONTENT_SECURITY_POLICY.split(";").map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values.join(" ")] as const;
    }));
    expect(directives.get("script-src")).toBe("'self'");
    expect(directives.get("object-src")).toBe("'none'");
    expect(directives.get("base-uri")).toBe("'none'");
    expect(directives.get("frame-ancestors")).toBe("'none'");
    expect(directives.get("form-action")).toBe("'self'");
    expect(directives.get("img-src")).toBe("'self' data: blob:");
    expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe");
  });

  it("serves the assets with their types, and ignores the query string", async () => {
    const js = await raw(port, "/app.js?v=1");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.body.toString()).toBe(APP_JS);
    expect((await raw(port, "/app.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await raw(port, "/favicon.svg")).headers["content-type"]).toBe("image/svg+xml");
  });

  it("answers 404, with the security headers, for anything that is not a built file", async () => {
    const paths = [
      "/missing",
      "/notes.txt", // in dist, but not part of the app
      "/.build-stamp.json",
      "/../secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e/secret.txt",
      "/app.js/../../secret.txt",
      "//etc/passwd",
      "/index.html%00.js",
      "/APP.JS",
      "/app.js/",
    ];
    for (const p of paths) {
      const res = await raw(port, p);
      expect(res.status, p).toBe(404);
      expect(res.body.toString()).not.toContain("do not serve");
      expectSecurityHeaders(res.headers);
    }
  });

  it("answers HEAD without a body and refuses other methods on app paths", async () => {
    const head = await raw(port, "/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers["content-length"])).toBe(INDEX.length);
    const post = await raw(port, "/", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    expect((await raw(port, "/elsewhere", { method: "POST" })).status).toBe(404);
  });

  it("revalidates with ETag (304) and compresses for clients that accept it", async () => {
    const first = await raw(port, "/app.js");
    const etag = first.headers.etag ?? "";
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await raw(port, "/app.js", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);

    const br = await raw(port, "/app.js", { headers: { "accept-encoding": "gzip, deflate, br" } });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers.vary).toBe("accept-encoding");
    expect(br.body.length).toBeLessThan(APP_JS.length);
    expect(brotliDecompressSync(br.body).toString()).toBe(APP_JS);
    expect(br.headers.etag).not.toBe(etag); // each encoding has its own validator

    const gz = await raw(port, "/app.js", { headers: { "accept-encoding": "gzip" } });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString()).toBe(APP_JS);
  });

  it("picks up a rebuilt file without a restart", async () => {
    const before = await raw(port, "/app.css");
    writeFileSync(path.join(distDir, "app.css"), "body{margin:1px;padding:0}");
    const after = await raw(port, "/app.css");
    expect(after.body.toString()).toBe("body{margin:1px;padding:0}");
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it("says how to build the app when dist is missing", async () => {
    const empty = http.createServer(createStaticAppHandler({ distDir: path.join(dir, "nowhere"), logger: silentLogger }));
    await new Promise<void>((resolve) => empty.listen(0, "127.0.0.1", resolve));
    try {
      const res = await raw((empty.address() as AddressInfo).port, "/");
      expect(res.status).toBe(503);
      expect(res.body.toString()).toContain("npm run build:web");
      expectSecurityHeaders(res.headers);
    } finally {
      await new Promise((resolve) => empty.close(resolve));
    }
  });

  it("works for HTTP/2 requests too", async () => {
    const h2 = http2.createServer(createStaticAppHandler({ distDir, logger: silentLogger }));
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
    try {
      const { headers, body } = await new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const stream = client.request({ ":path": "/" });
        let headers: http2.IncomingHttpHeaders = {};
        let body = "";
        stream.on("response", (h) => (headers = h));
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => (body += chunk));
        stream.on("end", () => resolve({ headers, body }));
        stream.on("error", reject);
      });
      expect(headers[":status"]).toBe(200);
      expect(body).toBe(INDEX);
      expectSecurityHeaders(headers);
    } finally {
      client.close();
      await new Promise((resolve) => h2.close(resolve));
    }
  });

  it("serves exactly the files the build writes", async () => {
    const { WEB_APP_FILES, DEFAULT_WEB_DIST_DIR: buildDir } = await import("../../web/build.js");
    const served = new Set([...STATIC_APP_ROUTES.values()].map((a) => a.file));
    expect([...served].sort()).toEqual([...WEB_APP_FILES].sort());
    expect(DEFAULT_WEB_DIST_DIR).toBe(buildDir);
  });

  it("chooses br, then gzip, and honours q=0", () => {
    expect(chooseEncoding("gzip, deflate, br")).toBe("br");
    expect(chooseEncoding("gzip;q=1.0, br;q=0")).toBe("gzip");
    expect(chooseEncoding("deflate")).toBe("identity");
    expect(chooseEncoding("")).toBe("identity");
  });
});
