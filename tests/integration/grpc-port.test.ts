/**
 * The internal grpc-js port on a real socket: SessionService from the same implementation as the
 * public port, reached through connect-node's gRPC transport and through a plain @grpc/grpc-js
 * client; errors with the same codes and google.rpc details; health and reflection (with the real
 * `buf curl`); logs (failed calls one by one, successful ones in a summary); bad bodies;
 * cancellation; graceful shutdown; and the wiring in startCypherServer (GRPC_PORT=0 / off).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  SessionService,
  VerifySessionRequestSchema,
  type GetPublicKeysRequest,
  type VerifySessionResponse,
} from "../../gen/cypher/session/v1/session_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../../server/config.js";
import { createAdminModule } from "../../server/rpc/admin-module.js";
import { startCypherServer } from "../../server/cypher-server.js";
import { startGrpcServer, type RunningGrpcServer } from "../../server/grpc/grpc-server.js";
import { grpcServiceDefinition } from "../../server/grpc/service-definition.js";
import { createLogger } from "../../server/logger.js";
import { HealthState } from "../../server/transport/health.js";
import { bearer, createActiveUser, createSessionHarness, expectRpcError, type SessionHarness } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";

const execFileAsync = promisify(execFile);
const BUF = path.resolve("node_modules/.bin/buf");

/** A plain grpc-js client of SessionService, built from the same descriptors. */
const RawSessionClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(SessionService), "SessionService");

function rawUnary<T>(client: grpc.Client, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...args: unknown[]) => void>)[method]!(request, metadata, (error: grpc.ServiceError | null, response: T) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** The google.rpc details a grpc-js client received, read the way a Connect client reads them. */
function connectErrorOf(error: grpc.ServiceError): ConnectError {
  const trailers = new Headers({ "grpc-status": String(error.code), "grpc-message": encodeURIComponent(error.details) });
  const [bin] = error.metadata.get("grpc-status-details-bin");
  if (bin !== undefined) trailers.set("grpc-status-details-bin", (bin as Buffer).toString("base64"));
  return findTrailerError(trailers)!;
}

describe("the internal gRPC port", () => {
  let ctx: TestContext;
  let h: SessionHarness;
  let health: HealthState;
  let server: RunningGrpcServer;
  const logs: string[] = [];
  let client: Client<typeof SessionService>;
  let raw: grpc.Client;
  let address: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    h = await createSessionHarness(ctx);
    health = new HealthState();
    health.setServing(true);
    server = await startGrpcServer({
      config: { ...ctx.config, grpcPort: 0, grpcHost: "127.0.0.1" },
      logger: createLogger("info", (line) => logs.push(line)),
      session: h.module.internalService,
      admin: createAdminModule(ctx, { revocations: h.module.liveness }).service,
      health,
      summaryIntervalMs: 300,
    });
    address = `127.0.0.1:${server.port}`;
    client = createClient(SessionService, createGrpcTransport({ baseUrl: `http://${address}` }));
    raw = new RawSessionClient(address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    raw?.close();
    await server?.close(0);
    await h?.close();
    await ctx?.close();
  });

  it("verifies a session with connect-node's gRPC transport and with a plain grpc-js client", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken } = await h.login(user, "laptop");
    const viaConnect = await client.verifySession({ accessToken });
    expect(viaConnect.session).toMatchObject({ sessionId, userId: user.id, username: user.username, deviceName: "laptop", current: true });
    const viaGrpcJs = await rawUnary<VerifySessionResponse>(raw, "verifySession", create(VerifySessionRequestSchema, { accessToken }));
    expect(viaGrpcJs.session).toMatchObject({ sessionId, userId: user.id, deviceName: "laptop" });
    // Many times over, concurrently: the same answer each time.
    const many = await Promise.all(Array.from({ length: 50 }, () => client.verifySession({ accessToken })));
    expect(new Set(many.map((r) => r.session?.sessionId))).toEqual(new Set([sessionId]));
  });

  it("answers errors with the public port's codes, one generic message, and ErrorInfo / BadRequest details", async () => {
    const bad = await expectRpcError(client.verifySession({ accessToken: "v4.public.not-a-token" }), Code.Unauthenticated, "TOKEN_INVALID");
    expect(bad.findDetails(ErrorInfoSchema)[0]?.domain).toBe("cypher.dev");

    const empty = await expectRpcError(client.verifySession({ accessToken: "" }), Code.InvalidArgument);
    expect(empty.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["access_token"]);

    // The plain grpc-js client sees the same status and the same google.rpc.Status in the trailers.
    const error = await rawUnary(raw, "verifySession", create(VerifySessionRequestSchema, { accessToken: "v4.public.not-a-token" })).catch(
      (e: grpc.ServiceError) => e,
    );
    expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((error as grpc.ServiceError).details).toBe("authentication failed");
    expect(connectErrorOf(error as grpc.ServiceError).findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["TOKEN_INVALID"]);
  });

  it("reads the Bearer token from metadata: ListSessions and Logout work, and the logout is refused at once", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken } = await h.login(user);
    const { sessions } = await client.listSessions({}, bearer(accessToken));
    expect(sessions.map((s) => s.sessionId)).toEqual([sessionId]);

    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${accessToken}`);
    await rawUnary(raw, "logout", {}, metadata);
    await expectRpcError(client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    await expectRpcError(client.listSessions({}), Code.Unauthenticated, "TOKEN_INVALID");
  });

  it("answers a body that is not a protobuf message with INTERNAL and no detail, and keeps serving", async () => {
    const session = http2.connect(`http://${address}`);
    try {
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12]);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]);
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/cypher.session.v1.SessionService/VerifySession",
          "content-type": "application/grpc",
          te: "trailers",
        });
        let headers: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => (headers = h));
        stream.on("trailers", (t) => (headers = { ...headers, ...t }));
        stream.on("close", () => resolve(headers));
        stream.on("error", reject);
        stream.resume();
        stream.end(frame);
      });
      expect(trailers["grpc-status"]).toBe(String(grpc.status.INTERNAL));
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toBe("Error deserializing request");
    } finally {
      session.close();
    }
    await expect(client.getPublicKeys({})).resolves.toBeDefined();
  });

  it("refuses a request above MAX_REQUEST_BYTES with RESOURCE_EXHAUSTED", async () => {
    const huge = "x".repeat(ctx.config.limits.maxRequestBytes + 1);
    await expectRpcError(client.verifySession({ accessToken: huge }), Code.ResourceExhausted);
  });

  it("serves gRPC health from the shared HealthState", async () => {
    const healthClient = createClient(Health, createGrpcTransport({ baseUrl: `http://${address}` }));
    expect((await healthClient.check({ service: "cypher.session.v1.SessionService" })).status).toBe(ServingStatus.SERVING);
    await expect(healthClient.check({ service: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("lists what it serves by reflection, for the real `buf curl`, and calls a method by reflection", async () => {
    const url = `http://${address}`;
    const list = await execFileAsync(BUF, ["curl", "--list-services", "--protocol", "grpc", "--http2-prior-knowledge", url]);
    expect(list.stdout.trim().split("\n").sort()).toEqual([
      "cypher.admin.v1.AdminService",
      "cypher.session.v1.SessionService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
    const keys = await execFileAsync(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", `${url}/cypher.session.v1.SessionService/GetPublicKeys`]);
    const body = JSON.parse(keys.stdout) as { keys: Array<{ purpose: string; paserk: string }> };
    expect(body.keys.map((k) => k.purpose)).toEqual(expect.arrayContaining(["access", "refresh", "login"]));
  });

  it("logs each failed call with the public port's fields, counts successful ones into a summary, and never logs a token", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    logs.length = 0;
    await client.verifySession({ accessToken });
    await client.verifySession({ accessToken });
    await client.verifySession({ accessToken: "v4.public.nope" }).catch(() => {});
    const parsed = () => logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const summaries = () => parsed().filter((l) => l.msg === "rpc summary" && l.method === "/cypher.session.v1.SessionService/VerifySession");
    // Two successes, counted (a summary may fall between them and split the count).
    await vi.waitFor(() => expect(summaries().reduce((n, l) => n + (l.calls as number), 0)).toBe(2), { timeout: 3_000 });
    const lines = parsed();
    expect(lines.filter((l) => l.msg === "rpc").map((l) => [l.method, l.code, l.protocol, l.stream, l.listener, l.peer])).toEqual([
      ["/cypher.session.v1.SessionService/VerifySession", "unauthenticated", "grpc", false, "internal", "127.0.0.1"],
    ]);
    expect(typeof lines.find((l) => l.msg === "rpc")!.durationMs).toBe("number");
    const summary = summaries()[0]!;
    expect(summary).toMatchObject({ level: "info", code: "ok", protocol: "grpc", listener: "internal" });
    expect(summary.durationMsMax).toBeGreaterThanOrEqual(summary.durationMsMean as number);
    expect(logs.join("\n")).not.toContain(accessToken.slice(10, 40));
  });

  it("logs successful calls one by one too at debug level", async () => {
    const debugLogs: string[] = [];
    const debugServer = await startGrpcServer({
      config: { ...ctx.config, grpcPort: 0, grpcHost: "127.0.0.1" },
      logger: createLogger("debug", (line) => debugLogs.push(line)),
      session: h.module.internalService,
      admin: createAdminModule(ctx, { revocations: h.module.liveness }).service,
      health,
    });
    try {
      const debugClient = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${debugServer.port}` }));
      await debugClient.getPublicKeys({});
      await vi.waitFor(() => expect(debugLogs.some((l) => l.includes('"msg":"rpc"'))).toBe(true));
      const line = debugLogs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "rpc")!;
      expect(line).toMatchObject({ level: "debug", method: "/cypher.session.v1.SessionService/GetPublicKeys", code: "ok", peer: "127.0.0.1", listener: "internal" });
    } finally {
      await debugServer.close(1_000);
    }
    // Closing writes the last summary, so a shutdown loses no count.
    expect(debugLogs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "rpc summary")).toMatchObject({
      method: "/cypher.session.v1.SessionService/GetPublicKeys",
      calls: 1,
    });
  });

  it("stops a server stream whose client cancels, and logs it as canceled", async () => {
    const abort = new AbortController();
    const stream = client.watchRevocations({}, { signal: abort.signal })[Symbol.asyncIterator]();
    // Earlier tests' logouts come first, then the marker.
    while (!(await stream.next()).value?.caughtUp);
    logs.length = 0;
    abort.abort();
    await vi.waitFor(() => {
      const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.method === "/cypher.session.v1.SessionService/WatchRevocations");
      expect(line).toMatchObject({ code: "canceled", stream: true });
    });
  });
});

describe("graceful shutdown of the internal port", () => {
  it("lets a call in flight finish, ends open streams when asked, refuses new connections, within the grace", async () => {
    const ctx = await createTestContext();
    const h = await createSessionHarness(ctx);
    const health = new HealthState();
    health.setServing(true);
    // GetPublicKeys waits for `release` here, to have a unary call in flight during the drain.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const session = {
      ...h.module.internalService,
      getPublicKeys: async (req: GetPublicKeysRequest, context: HandlerContext) => {
        entered();
        await released;
        return h.module.internalService.getPublicKeys(req, context);
      },
    };
    const server = await startGrpcServer({ config: { ...ctx.config, grpcPort: 0, grpcHost: "127.0.0.1" }, logger: createLogger("error", () => {}), session, admin: createAdminModule(ctx, { revocations: h.module.liveness }).service, health });
    try {
      const c = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
      const healthClient = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
      const received: string[] = [];
      const watching = (async () => {
        for await (const r of c.watchRevocations({})) received.push(r.caughtUp ? "caught up" : "revoked");
        return "ended";
      })();
      const watchingHealth = (async () => {
        for await (const r of healthClient.watch({})) received.push(`health ${r.status}`);
        return "ended";
      })();
      await vi.waitFor(() => expect(received).toEqual(expect.arrayContaining(["caught up", `health ${ServingStatus.SERVING}`])));

      const inFlight = c.getPublicKeys({});
      await inside;

      const startedMs = performance.now();
      health.shutdown();
      h.module.endStreams();
      const closed = server.close(10_000);
      setTimeout(release, 200);
      await closed;
      expect(performance.now() - startedMs).toBeLessThan(5_000);
      expect((await inFlight).keys.length).toBeGreaterThan(0);
      await expect(watching).resolves.toBe("ended");
      await expect(watchingHealth).resolves.toBe("ended");
      await expect(
        new Promise((resolve, reject) => net.connect(server.port, "127.0.0.1").on("connect", resolve).on("error", reject)),
      ).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      await server.close(0);
      await h.close();
      await ctx.close();
    }
  });
});

describe("the internal port with TLS_CERT_FILE / TLS_KEY_FILE", () => {
  it("serves gRPC over TLS with the public port's certificate", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-grpc-tls-"));
    const [certFile, keyFile] = [path.join(dir, "cert.pem"), path.join(dir, "key.pem")];
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1", "-keyout", keyFile, "-out", certFile],
      { stdio: "ignore" },
    );
    const ctx = await createTestContext({ env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } });
    const health = new HealthState();
    health.setServing(true);
    const h = await createSessionHarness(ctx);
    const server = await startGrpcServer({ config: { ...ctx.config, grpcPort: 0, grpcHost: "127.0.0.1" }, logger: createLogger("error", () => {}), session: h.module.internalService, admin: createAdminModule(ctx, { revocations: h.module.liveness }).service, health });
    const client = new RawSessionClient(`localhost:${server.port}`, grpc.credentials.createSsl(readFileSync(certFile)));
    try {
      const { keys } = await rawUnary<{ keys: unknown[] }>(client, "getPublicKeys", {});
      expect(keys.length).toBeGreaterThan(0);
      const plaintext = new RawSessionClient(`localhost:${server.port}`, grpc.credentials.createInsecure());
      await expect(rawUnary(plaintext, "getPublicKeys", {}, new grpc.Metadata())).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      plaintext.close();
    } finally {
      client.close();
      await server.close(0);
      await h.close();
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("startCypherServer and GRPC_PORT", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-grpc-port-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("opens the internal port on GRPC_PORT=0, serves it until stop(), and leaves it closed with GRPC_PORT=off", async () => {
    const config = loadConfig({ PORT: "0", GRPC_PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir });
    const server = await startCypherServer({ config, logger: createLogger("error", () => {}), env: {} });
    let stopped = false;
    try {
      expect(server.grpcPort).toEqual(expect.any(Number));
      expect(server.grpcPort).not.toBe(server.port);
      const c = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.grpcPort}` }));
      expect((await c.check({})).status).toBe(ServingStatus.SERVING);
      const list = await execFileAsync(BUF, ["curl", "--list-services", "--protocol", "grpc", "--http2-prior-knowledge", `http://127.0.0.1:${server.grpcPort}`]);
      expect(list.stdout).toContain("cypher.session.v1.SessionService");
      expect(list.stdout).not.toContain("cypher.auth.v1.AuthService");
      await server.stop();
      stopped = true;
      await expect(
        new Promise((resolve, reject) => net.connect(server.grpcPort!, "127.0.0.1").on("connect", resolve).on("error", reject)),
      ).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      if (!stopped) await server.stop();
    }

    const off = await startCypherServer({ config: loadConfig({ PORT: "0", GRPC_PORT: "off", METRICS_PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir }), logger: createLogger("error", () => {}), env: {} });
    try {
      expect(off.grpcPort).toBeNull();
    } finally {
      await off.stop();
    }
  });
});

describe("where the internal port listens (GRPC_HOST), and who may follow revocations where", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-grpc-host-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** An address of this machine that is not loopback: where a default internal port must not answer. */
  function outsideAddress(): string {
    const address = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
    expect(address, "this test needs a network interface besides loopback").toBeDefined();
    return address!;
  }
  const connectTo = (host: string, port: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.on("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.on("error", reject);
    });

  it("binds 127.0.0.1 by default, even with HOST unset, and the address GRPC_HOST names when set", async () => {
    const outside = outsideAddress();
    const server = await startCypherServer({ config: loadConfig({ PORT: "0", METRICS_PORT: "0", GRPC_PORT: "0", DATA_DIR: dir }), logger: createLogger("error", () => {}), env: {} });
    try {
      await connectTo("127.0.0.1", server.grpcPort!);
      await expect(connectTo(outside, server.grpcPort!)).rejects.toMatchObject({ code: "ECONNREFUSED" });
      // The public port still listens everywhere (HOST unset).
      await connectTo(outside, server.port);

      // On the public port, the feed needs an access token; on the internal port, backends follow every account's.
      const publicClient = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
      await expectRpcError(
        (async () => {
          for await (const _ of publicClient.watchRevocations({})) break;
        })(),
        Code.Unauthenticated,
        "TOKEN_INVALID",
      );
      const internalClient = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.grpcPort}` }));
      for await (const r of internalClient.watchRevocations({})) {
        expect(r.caughtUp).toBe(true);
        break;
      }
    } finally {
      await server.stop();
    }

    const opened = await startCypherServer({
      config: loadConfig({ PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "0", GRPC_HOST: outside, DATA_DIR: dir }),
      logger: createLogger("error", () => {}),
      env: {},
    });
    try {
      const c = createClient(Health, createGrpcTransport({ baseUrl: `http://${outside}:${opened.grpcPort}` }));
      expect((await c.check({})).status).toBe(ServingStatus.SERVING);
      await expect(connectTo("127.0.0.1", opened.grpcPort!)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      await opened.stop();
    }
  });
});
