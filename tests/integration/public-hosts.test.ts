/**
 * PUBLIC_HOSTS over real sockets: a request whose Host (HTTP/1.1) or :authority (HTTP/2) is not a
 * listed name is refused with 421 before any handler runs; listed names pass with any port and in
 * any case; without the setting every host passes.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config.js";
import { silentLogger } from "../../server/logger.js";
import { HealthState } from "../../server/transport/health.js";
import { startPublicServer, type RunningServer } from "../../server/transport/listener.js";
import { registerRoutes } from "../../server/transport/routes.js";
import { unimplementedAccountService, unimplementedAuthService, unimplementedSessionService } from "../support/unimplemented-services.js";

const CHECK = "/grpc.health.v1.Health/Check";
const CONNECT_HEADERS = { "content-type": "application/json", "connect-protocol-version": "1" };

async function start(env: Record<string, string>): Promise<RunningServer> {
  const health = new HealthState();
  health.setServing(true);
  return startPublicServer({
    config: loadConfig({ PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", ...env }),
    logger: silentLogger,
    routes: (router) => registerRoutes(router, { auth: unimplementedAuthService(), session: unimplementedSessionService(), account: unimplementedAccountService(), health }),
  });
}

/** A Connect Health/Check over HTTP/1.1 with the given Host header: status and body. */
function viaHttp1(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: CHECK, headers: { ...CONNECT_HEADERS, host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end("{}");
  });
}

/** The same over h2c with the given :authority. */
function viaHttp2(port: number, authority: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": CHECK, ":authority": authority, ...CONNECT_HEADERS });
    let status = 0;
    let body = "";
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.setEncoding("utf8").on("data", (c: string) => (body += c));
    stream.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    stream.on("error", reject);
    stream.end("{}");
  });
}

/** An HTTP/1.0 request without any Host header: the raw first line of the answer. */
function withoutHost(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(`GET / HTTP/1.0\r\n\r\n`));
    let data = "";
    socket.setEncoding("utf8").on("data", (c: string) => (data += c)).on("end", () => resolve(data.split("\r\n")[0]!)).on("error", reject);
  });
}

describe("PUBLIC_HOSTS set", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await start({ PUBLIC_HOSTS: "cypher.example.com, Login.Example.org., [::1]" });
  });
  afterAll(() => server?.close(0));

  it("refuses other hosts with 421 on HTTP/1.1 and HTTP/2, before any handler", async () => {
    for (const via of [viaHttp1, viaHttp2]) {
      for (const host of ["attacker.example", `127.0.0.1:${server.port}`, "cypher.example.com.attacker.example", "[::2]"]) {
        const answer = await via(server.port, host);
        expect(answer, `${via.name} ${host}`).toEqual({ status: 421, body: "misdirected request\n" });
      }
    }
    expect(await withoutHost(server.port)).toBe("HTTP/1.1 421 Misdirected Request");
  });

  it("serves the listed names, whatever the port and case", async () => {
    for (const via of [viaHttp1, viaHttp2]) {
      for (const host of ["cypher.example.com", "CYPHER.example.com:8443", "login.example.org", "login.example.org.:443", "[::1]:8080"]) {
        const answer = await via(server.port, host);
        expect(answer, `${via.name} ${host}`).toEqual({ status: 200, body: '{"status":"SERVING"}' });
      }
    }
  });

  it("refuses a malformed list at start-up", () => {
    expect(() => loadConfig({ PUBLIC_HOSTS: "https://cypher.example.com" })).toThrow(/PUBLIC_HOSTS/);
    expect(() => loadConfig({ PUBLIC_HOSTS: "cypher.example.com:443" })).toThrow(/PUBLIC_HOSTS/);
  });
});

describe("PUBLIC_HOSTS unset", () => {
  it("serves every host", async () => {
    const server = await start({});
    try {
      expect((await viaHttp1(server.port, "attacker.example")).status).toBe(200);
      expect((await viaHttp2(server.port, "attacker.example")).status).toBe(200);
    } finally {
      await server.close(0);
    }
  });
});
