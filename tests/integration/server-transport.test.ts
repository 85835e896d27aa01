/**
 * The public port on a real socket (port 0): Connect, gRPC and gRPC-Web over HTTP/1.1 and h2c on
 * one port, health, reflection (with the real `buf curl`), request limits, graceful shutdown, TLS.
 * The product's services are the Unimplemented stand-ins: this is about the transport.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { loadConfig } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";
import { HealthState } from "../../server/transport/health.js";
import { startPublicServer, type FallbackHandler, type ListenerTimeouts, type RunningServer } from "../../server/transport/listener.js";
import { registerRoutes } from "../../server/transport/routes.js";
import { unimplementedAccountService, unimplementedAuthService, unimplementedSessionService } from "../support/unimplemented-services.js";

const execFileAsync = promisify(execFile);
const BUF = path.resolve("node_modules/.bin/buf");

interface TestServer {
  server: RunningServer;
  health: HealthState;
  baseUrl: string;
  logs: string[];
  /** Lets calls that carry `x-test-hold` wait until released. */
  hold: Hold;
}

/** A gate for calls that carry the header `x-test-hold`: they wait inside the server until released. */
class Hold {
  #entered: Array<() => void> = [];
  #waiting = 0;
  #release!: () => void;
  #released = new Promise<void>((r) => (this.#release = r));
  readonly interceptor: Interceptor = (next) => async (req) => {
    if (req.header.has("x-test-hold")) {
      this.#waiting++;
      this.#entered.splice(0).forEach((f) => f());
      await this.#released;
    }
    return next(req);
  };
  /** Resolves once `count` held calls are inside the server. */
  async entered(count = 1): Promise<void> {
    while (this.#waiting < count) await new Promise<void>((r) => this.#entered.push(r));
  }
  release(): void {
    this.#release();
  }
}

async function startTestServer(
  options: { env?: Record<string, string>; fallback?: FallbackHandler; timeouts?: Partial<ListenerTimeouts> } = {},
): Promise<TestServer> {
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", ...options.env });
  const logs: string[] = [];
  const health = new HealthState();
  const hold = new Hold();
  const server = await startPublicServer({
    config,
    logger: createLogger("info", (line) => logs.push(line)),
    routes: (router) =>
      registerRoutes(router, { auth: unimplementedAuthService(), session: unimplementedSessionService(), account: unimplementedAccountService(), health }),
    interceptors: [hold.interceptor],
    fallback: options.fallback,
    timeouts: options.timeouts,
  });
  const host = config.tls ? "localhost" : "127.0.0.1";
  return { server, health, logs, hold, baseUrl: `${server.scheme}://${host}:${server.port}` };
}

function postJson(baseUrl: string, procedure: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}${procedure}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", ...headers },
    body: JSON.stringify(body),
  });
}

async function errorOf(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

/** Connects and resolves with the socket, or rejects with the connection error. */
function tcpConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves with everything the server sent once it closes the connection. */
function untilClosed(socket: net.Socket): Promise<string> {
  let received = "";
  socket.on("data", (d) => (received += d.toString("latin1")));
  return new Promise((resolve) => socket.once("close", () => resolve(received)));
}

describe("one plaintext port", () => {
  let t: TestServer;
  const transports: Array<[string, () => Transport]> = [];
  beforeAll(async () => {
    t = await startTestServer({ env: { MAX_REQUEST_BYTES: "4096" } });
    transports.push(
      ["gRPC over h2c", () => createGrpcTransport({ baseUrl: t.baseUrl })],
      ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" })],
      ["gRPC-Web over h2c", () => createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "2" })],
      ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" })],
      ["Connect over h2c", () => createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "2" })],
    );
  });
  afterAll(() => t.server.close(1000));
  afterEach(() => t.health.setServing(false));

  it("answers a plain Connect JSON POST (HTTP/1.1, fetch) with the health status", async () => {
    const before = await postJson(t.baseUrl, "/grpc.health.v1.Health/Check", {});
    expect(before.status).toBe(200);
    expect(await before.json()).toEqual({ status: "NOT_SERVING" });
    t.health.setServing(true);
    const after = await postJson(t.baseUrl, "/grpc.health.v1.Health/Check", { service: "cypher.auth.v1.AuthService" });
    expect(await after.json()).toEqual({ status: "SERVING" });
  });

  it("serves every protocol on the same port, both HTTP versions", async () => {
    t.health.setServing(true);
    for (const [name, transport] of transports) {
      const health = createClient(Health, transport());
      expect((await health.check({ service: "" })).status, name).toBe(ServingStatus.SERVING);
      const auth = createClient(AuthService, transport());
      expect((await errorOf(auth.registerInit({ username: "alice" }))).code, name).toBe(Code.Unimplemented);
    }
  });

  it("streams health changes to a Watch over h2c", async () => {
    const abort = new AbortController();
    const watch = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }))
      .watch({ service: "cypher.session.v1.SessionService" }, { signal: abort.signal })
      [Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    t.health.setServing(true);
    expect((await watch.next()).value?.status).toBe(ServingStatus.SERVING);
    abort.abort();
    // The server notices the client leaving: the stream is logged, as cancelled.
    await vi.waitFor(() =>
      expect(t.logs.map((l) => JSON.parse(l))).toContainEqual(
        expect.objectContaining({ method: "/grpc.health.v1.Health/Watch", code: "canceled", protocol: "grpc", stream: true }),
      ),
    );
  });

  it("lists services and serves file descriptors over reflection v1 and v1alpha", async () => {
    const transport = createGrpcTransport({ baseUrl: t.baseUrl });
    for (const [schema, service] of [
      [v1.ServerReflectionRequestSchema, v1.ServerReflection],
      [v1alpha.ServerReflectionRequestSchema, v1alpha.ServerReflection],
    ] as const) {
      const client = createClient(service as typeof v1.ServerReflection, transport);
      const answers = [];
      for await (const answer of client.serverReflectionInfo(
        (async function* () {
          yield { messageRequest: { case: "listServices", value: "" } } as v1.ServerReflectionRequest;
          yield { messageRequest: { case: "fileContainingSymbol", value: "cypher.auth.v1.AuthService" } } as v1.ServerReflectionRequest;
        })(),
      )) {
        answers.push(answer);
      }
      expect(schema.typeName).toMatch(/ServerReflectionRequest$/);
      const services = (answers[0]!.messageResponse.value as v1.ListServiceResponse).service.map((s) => s.name);
      expect(services).toEqual(
        expect.arrayContaining([
          "cypher.account.v1.AccountService",
          "cypher.auth.v1.AuthService",
          "cypher.session.v1.SessionService",
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]),
      );
      const files = (answers[1]!.messageResponse.value as v1.FileDescriptorResponse).fileDescriptorProto.map((b) =>
        fromBinary(FileDescriptorProtoSchema, b),
      );
      expect(files.map((f) => f.name)).toEqual(["cypher/auth/v1/auth.proto", "google/protobuf/timestamp.proto"]);
      expect(files[0]!.service[0]!.method.map((m) => m.name)).toEqual([
        "RegisterInit",
        "RegisterFinish",
        "SetupTotp",
        "VerifyTotpSetup",
        "LoginInit",
        "LoginFinish",
      ]);
    }
  });

  it("works with the real `buf curl`: list services, then call Health/Check by reflection", async () => {
    t.health.setServing(true);
    const url = `http://127.0.0.1:${t.server.port}`;
    const list = await execFileAsync(BUF, ["curl", "--list-services", "--protocol", "grpc", "--http2-prior-knowledge", url]);
    expect(list.stdout.trim().split("\n").sort()).toEqual([
      "cypher.account.v1.AccountService",
      "cypher.auth.v1.AuthService",
      "cypher.session.v1.SessionService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
    const check = await execFileAsync(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--reflect",
      "--data",
      '{"service":"cypher.auth.v1.AuthService"}',
      `${url}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(check.stdout)).toEqual({ status: "SERVING" });
    const methods = await execFileAsync(BUF, ["curl", "--list-methods", "--protocol", "grpc", "--http2-prior-knowledge", url]);
    expect(methods.stdout).toContain("cypher.session.v1.SessionService/VerifySession");
  });

  it("refuses an oversized message with ResourceExhausted and keeps serving", async () => {
    const big = "x".repeat(64 * 1024);
    const viaFetch = await postJson(t.baseUrl, "/cypher.auth.v1.AuthService/RegisterInit", { username: big });
    expect(viaFetch.status).toBe(429);
    expect(await viaFetch.json()).toMatchObject({ code: "resource_exhausted" });
    for (const [name, transport] of transports) {
      const err = await errorOf(createClient(AuthService, transport()).registerInit({ username: big }));
      expect(err.code, name).toBe(Code.ResourceExhausted);
    }
    // A client that streams megabytes after the answer gets its stream reset, not a stuck call.
    const session = http2.connect(t.baseUrl);
    const stream = session.request({ ":method": "POST", ":path": "/cypher.auth.v1.AuthService/RegisterInit", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {}); // the client's own view of the reset
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("trailers", resolve));
    const reset = new Promise((resolve) => stream.once("close", resolve));
    const header = Buffer.alloc(5);
    header.writeUInt32BE(100 * 1024 * 1024, 1);
    stream.write(header);
    const chunk = Buffer.alloc(256 * 1024);
    const pump = () => {
      while (!stream.destroyed && stream.write(chunk));
      if (!stream.destroyed) stream.once("drain", pump);
    };
    pump();
    stream.resume();
    expect((await trailers)["grpc-status"]).toBe(String(Code.ResourceExhausted));
    await reset;
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    session.destroy();
    expect((await postJson(t.baseUrl, "/grpc.health.v1.Health/Check", {})).status).toBe(200);
  });

  it("answers an unparseable binary body with Internal \"parse binary\" only", async () => {
    const res = await fetch(`${t.baseUrl}/cypher.auth.v1.AuthService/RegisterInit`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
    });
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("internal");
    expect(body.message).toMatch(/^parse binary: [^\n]{1,100}$/);
    expect(body.message).not.toMatch(/\bat \S+:\d+/); // no stack frame
  });

  it("answers malformed JSON with InvalidArgument", async () => {
    const res = await fetch(`${t.baseUrl}/cypher.auth.v1.AuthService/RegisterInit`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: '{"username": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("answers 404 on paths that are not RPCs", async () => {
    const res = await fetch(`${t.baseUrl}/some/page`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("not found\n");
  });

  it("survives an HTTP/1.0 request without a Host header", async () => {
    const socket = await tcpConnect(t.server.port);
    const reply = untilClosed(socket);
    socket.write("POST /grpc.health.v1.Health/Check HTTP/1.0\r\ncontent-type: application/json\r\nconnect-protocol-version: 1\r\ncontent-length: 2\r\n\r\n{}");
    expect(await reply).toMatch(/^HTTP\/1\.1 400 /);
    expect((await postJson(t.baseUrl, "/grpc.health.v1.Health/Check", {})).status).toBe(200);
  });

  it("logs one line per call, with the peer address and protocol and without the authorization header", async () => {
    const before = t.logs.length;
    await postJson(t.baseUrl, "/grpc.health.v1.Health/Check", {}, { authorization: "Bearer v4.public.TOP-SECRET" });
    const lines = t.logs.slice(before).map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({ msg: "rpc", method: "/grpc.health.v1.Health/Check", code: "ok", peer: "127.0.0.1", protocol: "connect" }),
    ]);
    expect(t.logs.join("\n")).not.toContain("TOP-SECRET");
  });
});

describe("slow or silent clients", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ timeouts: { headersTimeoutMs: 300 } });
  });
  afterAll(() => t.server.close(1000));

  it("drops a connection that never says which protocol it speaks", async () => {
    const socket = await tcpConnect(t.server.port);
    const startedMs = Date.now();
    await untilClosed(socket);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
  });

  it("drops an HTTP/1.1 client that never finishes its headers", async () => {
    const socket = await tcpConnect(t.server.port);
    const closed = untilClosed(socket);
    socket.write("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n");
    const reply = await closed;
    expect(reply === "" || reply.startsWith("HTTP/1.1 408")).toBe(true);
  });
});

describe("graceful close", () => {
  it("lets calls in flight finish, refuses new connections, and resolves once they are done", async () => {
    const t = await startTestServer();
    t.health.setServing(true);
    const grpc = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
    const held = { headers: { "x-test-hold": "1" } };
    const overH2 = grpc.check({ service: "" }, held);
    const overH1 = postJson(t.baseUrl, "/grpc.health.v1.Health/Check", {}, held["headers"]);
    // An idle keep-alive connection must not hold the close up.
    const idle = await tcpConnect(t.server.port);
    const idleClosed = untilClosed(idle);
    idle.write("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nconnect-protocol-version: 1\r\ncontent-length: 2\r\n\r\n{}");
    await t.hold.entered(2);

    const startedMs = Date.now();
    t.health.shutdown();
    const closed = t.server.close(10_000);
    await expect(tcpConnect(t.server.port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(await idleClosed).toContain('{"status":"SERVING"}');

    t.hold.release();
    expect((await overH2).status).toBe(ServingStatus.NOT_SERVING);
    const h1 = await overH1;
    expect(h1.headers.get("connection")).toBe("close");
    expect(await h1.json()).toEqual({ status: "NOT_SERVING" });
    await closed;
    expect(Date.now() - startedMs).toBeLessThan(5_000);
  });

  it("ends Watch streams at shutdown so they do not hold the close up", async () => {
    const t = await startTestServer();
    const watch = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl })).watch({ service: "" })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    const startedMs = Date.now();
    t.health.shutdown();
    await t.server.close(10_000);
    expect((await watch.next()).done).toBe(true);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
  });

  it("cuts calls still running when the grace period is over", async () => {
    const t = await startTestServer();
    const grpc = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
    const stuck = errorOf(grpc.check({ service: "" }, { headers: { "x-test-hold": "1" } }));
    await t.hold.entered();
    const startedMs = Date.now();
    await t.server.close(200);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(190);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
    expect([Code.Unavailable, Code.Canceled, Code.Internal]).toContain((await stuck).code);
    t.hold.release();
    expect(t.logs.some((l) => l.includes("grace period over"))).toBe(true);
  });
});

describe("TLS", () => {
  let dir: string;
  let ca: Buffer;
  let t: TestServer;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-tls-"));
    const [certFile, keyFile] = [path.join(dir, "cert.pem"), path.join(dir, "key.pem")];
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1",
      "-keyout", keyFile, "-out", certFile,
    ], { stdio: "ignore" });
    ca = readFileSync(certFile);
    // The fallback echoes the HTTP version, so the test sees what ALPN chose.
    t = await startTestServer({
      env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile },
      fallback: (req, res) => res.end(`HTTP/${req.httpVersion}`),
    });
    t.health.setServing(true);
  });
  afterAll(async () => {
    await t?.server.close(1000);
    rmSync(dir, { recursive: true, force: true });
  });

  it("negotiates h2 and http/1.1 by ALPN on the same port", async () => {
    for (const protocol of ["h2", "http/1.1"]) {
      const socket = tls.connect({ host: "localhost", port: t.server.port, ca, ALPNProtocols: [protocol], servername: "localhost" });
      await new Promise((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
      expect(socket.alpnProtocol).toBe(protocol);
      socket.destroy();
    }
    const overH1 = await new Promise<string>((resolve, reject) => {
      http
        .get(`${t.baseUrl.replace("https:", "http:")}/`, { createConnection: () => tls.connect({ host: "localhost", port: t.server.port, ca, ALPNProtocols: ["http/1.1"] }) }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d)).on("end", () => resolve(body));
        })
        .on("error", reject);
    });
    expect(overH1).toBe("HTTP/1.1");
  });

  it("serves gRPC over h2 and Connect over HTTP/1.1", async () => {
    const grpc = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl, nodeOptions: { ca } }));
    expect((await grpc.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    const connect = createClient(Health, createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "1.1", nodeOptions: { ca } }));
    expect((await connect.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    const grpcWeb = createClient(AuthService, createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "1.1", nodeOptions: { ca } }));
    expect((await errorOf(grpcWeb.loginInit({ username: "bob" }))).code).toBe(Code.Unimplemented);
  });

  it("lists services with `buf curl` over TLS", async () => {
    const list = await execFileAsync(BUF, ["curl", "--list-services", "--protocol", "grpc", "--cacert", path.join(dir, "cert.pem"), t.baseUrl]);
    expect(list.stdout).toContain("cypher.auth.v1.AuthService");
  });
});
