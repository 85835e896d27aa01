/**
 * What a browser meets on a real Cypher (port 0): the CORS allowlist (same origin only by default,
 * CORS_ORIGINS for others), the Connect protocol header that plain forms and stray fetches cannot
 * send, and security headers on the web app's pages, its 404 and on RPC answers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { silentLogger } from "../../server/logger.js";
import { CORS_ALLOWED_HEADERS } from "../../server/transport/cors.js";
import { CONTENT_SECURITY_POLICY, createStaticAppHandler } from "../../server/web/static-app.js";
import { createCypherClients, createCypherTransport } from "../../web/src/client/clients.js";
import { startHardeningServer, type HardeningServer } from "./support/hardening-server.js";

const ALLOWED_ORIGIN = "https://app.example.com";
const OTHER_ORIGIN = "https://evil.example";
const PUBLIC_KEYS = "/cypher.session.v1.SessionService/GetPublicKeys";

/** The headers the web client sends on a call (Connect protocol, binary). */
const CONNECT_HEADERS = { "content-type": "application/json", "connect-protocol-version": "1" };

function preflight(baseUrl: string, origin: string, headers = "content-type,connect-protocol-version,x-cypher-client,authorization") {
  return fetch(baseUrl + PUBLIC_KEYS, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });
}

describe("CORS: default (no CORS_ORIGINS) is same origin only", () => {
  let s: HardeningServer;
  beforeAll(async () => {
    s = await startHardeningServer();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("answers same-origin and Origin-less calls without any CORS header", async () => {
    for (const headers of [CONNECT_HEADERS, { ...CONNECT_HEADERS, origin: s.baseUrl }, { ...CONNECT_HEADERS, origin: `http://localhost:${s.port}` }]) {
      const res = await fetch((headers as { origin?: string }).origin?.includes("localhost") ? `http://localhost:${s.port}${PUBLIC_KEYS}` : s.baseUrl + PUBLIC_KEYS, {
        method: "POST",
        headers,
        body: "{}",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("refuses another origin's preflight and its calls with 403 and no CORS headers", async () => {
    const pre = await preflight(s.baseUrl, OTHER_ORIGIN);
    expect(pre.status).toBe(403);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    const call = await fetch(s.baseUrl + PUBLIC_KEYS, { method: "POST", headers: { ...CONNECT_HEADERS, origin: OTHER_ORIGIN }, body: "{}" });
    expect(call.status).toBe(403);
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
    // An origin that differs only by port is another origin.
    const port = await fetch(s.baseUrl + PUBLIC_KEYS, { method: "POST", headers: { ...CONNECT_HEADERS, origin: `http://127.0.0.1:${s.port + 1}` }, body: "{}" });
    expect(port.status).toBe(403);
  });
});

describe("CORS: CORS_ORIGINS allowlist", () => {
  let s: HardeningServer;
  beforeAll(async () => {
    s = await startHardeningServer({ CORS_ORIGINS: `${ALLOWED_ORIGIN}, https://other-app.example.com` });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("answers an allowed origin's preflight with the web client's headers and credentials", async () => {
    const res = await preflight(s.baseUrl, ALLOWED_ORIGIN, CORS_ALLOWED_HEADERS.join(","));
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    const allowedHeaders = (res.headers.get("access-control-allow-headers") ?? "").split(/, */);
    for (const h of ["content-type", "connect-protocol-version", "connect-timeout-ms", "authorization", "x-cypher-client", "x-grpc-web", "x-user-agent"]) {
      expect(allowedHeaders).toContain(h);
    }
    expect(res.headers.get("vary")).toContain("origin");
  });

  it("lets an allowed origin read a Connect answer and a gRPC-Web status, with credentials", async () => {
    const res = await fetch(s.baseUrl + PUBLIC_KEYS, { method: "POST", headers: { ...CONNECT_HEADERS, origin: ALLOWED_ORIGIN }, body: "{}" });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").split(/, */);
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin"]));

    const seen: Headers[] = [];
    const grpcWeb = createClient(
      SessionService,
      createGrpcWebTransport({ baseUrl: s.baseUrl, httpVersion: "1.1", interceptors: [(next) => async (req) => {
        req.header.set("origin", ALLOWED_ORIGIN);
        const r = await next(req);
        seen.push(r.header);
        return r;
      }] }),
    );
    const keys = await grpcWeb.getPublicKeys({});
    expect(keys.keys.length).toBeGreaterThan(0);
    expect(seen[0]?.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
  });

  it("still refuses an origin that is not listed", async () => {
    expect((await preflight(s.baseUrl, OTHER_ORIGIN)).status).toBe(403);
    expect((await preflight(s.baseUrl, "https://app.example.com.evil.example")).status).toBe(403);
    expect((await preflight(s.baseUrl, "http://app.example.com")).status).toBe(403);
  });
});

describe("the Connect protocol header and security headers", () => {
  let s: HardeningServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-browser-edges-"));
    const distDir = path.join(dir, "dist");
    mkdirSync(distDir);
    writeFileSync(path.join(distDir, "index.html"), "<!doctype html><title>Cypher</title>");
    writeFileSync(path.join(distDir, "app.js"), "export {};");
    s = await startHardeningServer({}, { fallback: createStaticAppHandler({ distDir, logger: silentLogger }) });
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a Connect call without connect-protocol-version (what a form post or a stray fetch would send)", async () => {
    const res = await fetch(s.baseUrl + PUBLIC_KEYS, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    const ok = await fetch(s.baseUrl + PUBLIC_KEYS, { method: "POST", headers: CONNECT_HEADERS, body: "{}" });
    expect(ok.status).toBe(200);
  });

  it("the web client sends the header (its calls succeed), and gRPC-Web needs none", async () => {
    const sent: Headers[] = [];
    const clients = createCypherClients(
      createCypherTransport({
        baseUrl: s.baseUrl,
        fetch: (input, init) => {
          sent.push(new Headers(init?.headers));
          return fetch(input, init);
        },
      }),
    );
    expect((await clients.session.getPublicKeys({})).keys.length).toBeGreaterThan(0);
    expect(sent[0]?.get("connect-protocol-version")).toBe("1");
    const grpcWeb = createClient(SessionService, createGrpcWebTransport({ baseUrl: s.baseUrl, httpVersion: "1.1" }));
    expect((await grpcWeb.getPublicKeys({})).keys.length).toBeGreaterThan(0);
  });

  it("never takes a token from a URL: RPCs refuse GET", async () => {
    const message = encodeURIComponent(JSON.stringify({ accessToken: "v4.public.AAAA" }));
    for (const rpc of ["VerifySession", "RefreshSession", "ListSessions", "GetPublicKeys"]) {
      const res = await fetch(`${s.baseUrl}/cypher.session.v1.SessionService/${rpc}?connect=v1&encoding=json&message=${message}`);
      expect(res.status, rpc).toBe(405);
    }
    const auth = await fetch(`${s.baseUrl}/cypher.auth.v1.AuthService/LoginFinish?connect=v1&encoding=json&message=%7B%7D`);
    expect(auth.status).toBe(405);
  });

  it("every page and the 404 carry the app's CSP and security headers", async () => {
    for (const p of ["/", "/index.html", "/no-such-page", "/app.js"]) {
      const res = await fetch(s.baseUrl + p);
      expect(res.status, p).toBe(p === "/no-such-page" ? 404 : 200);
      expect(res.headers.get("content-security-policy"), p).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get("x-content-type-options"), p).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), p).toBe("DENY");
      expect(res.headers.get("referrer-policy"), p).toBe("no-referrer");
    }
  });

  it("RPC answers (success and error) are never sniffed, framed or cached", async () => {
    const ok = await fetch(s.baseUrl + PUBLIC_KEYS, { method: "POST", headers: CONNECT_HEADERS, body: "{}" });
    const failed = await fetch(s.baseUrl + "/cypher.session.v1.SessionService/VerifySession", {
      method: "POST",
      headers: CONNECT_HEADERS,
      body: JSON.stringify({ accessToken: "v4.public.nope" }),
    });
    expect(failed.status).toBe(401);
    for (const res of [ok, failed]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
  });
});
