/**
 * HTTP/2 requests whose body never finishes, on both ports over real sockets: a raw node:http2
 * client sends HEADERS announcing a 100-byte gRPC body, then nothing. The server must reset the
 * stream once REQUEST_BODY_TIMEOUT_MS has passed, while a call whose request is a stream by design
 * (reflection's bidi ServerReflectionInfo) stays open as long as its client likes. Both ports also
 * announce HTTP2_MAX_CONCURRENT_STREAMS.
 */
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { createAdminModule } from "../../server/rpc/admin-module.js";
import { loadConfig } from "../../server/config.js";
import { startGrpcServer, type RunningGrpcServer } from "../../server/grpc/grpc-server.js";
import { silentLogger } from "../../server/logger.js";
import { HealthState } from "../../server/transport/health.js";
import { startPublicServer, type RunningServer } from "../../server/transport/listener.js";
import { registerRoutes } from "../../server/transport/routes.js";
import { createSessionHarness, type SessionHarness } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { unimplementedAccountService, unimplementedAuthService, unimplementedSessionService } from "../support/unimplemented-services.js";

const DEADLINE_MS = 600;
const ENV = { REQUEST_BODY_TIMEOUT_MS: String(DEADLINE_MS), HTTP2_MAX_CONCURRENT_STREAMS: "40" };
const REFLECTION_INFO = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/** Opens a stream announcing a 100-byte gRPC body and sends none of it. */
function stalledRequest(session: http2.ClientHttp2Session, path: string) {
  const startedMs = Date.now();
  const stream = session.request(
    { ":method": "POST", ":path": path, "content-type": "application/grpc", "content-length": "100", te: "trailers" },
    { endStream: false },
  );
  stream.on("error", () => {}); // a reset surfaces as an error too; the close event is what is checked
  stream.resume();
  const closed = new Promise<{ rstCode: number; afterMs: number }>((resolve) =>
    stream.on("close", () => resolve({ rstCode: stream.rstCode, afterMs: Date.now() - startedMs })),
  );
  return { stream, closed };
}

/** Resolves with what `closed` gave, or "still open" after `ms`. */
function within<T>(closed: Promise<T>, ms: number): Promise<T | "still open"> {
  return Promise.race([closed, new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms))]);
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once("remoteSettings", () => resolve(session));
    session.once("error", reject);
  });
}

/** A gRPC frame of a ServerReflectionRequest asking for the service list. */
function listServicesFrame(): Buffer {
  const body = toBinary(v1.ServerReflectionRequestSchema, create(v1.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } }));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  Buffer.from(body).copy(frame, 5);
  return frame;
}

/** A server-streaming call (Health/Watch) whose request arrived whole: open well past the deadline. */
async function watchStaysOpen(session: http2.ClientHttp2Session): Promise<void> {
  const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
  const messages: Buffer[] = [];
  stream.on("data", (c: Buffer) => messages.push(c));
  stream.end(Buffer.alloc(5)); // one empty HealthCheckRequest
  await new Promise((r) => setTimeout(r, DEADLINE_MS * 2.5));
  expect(messages.length).toBeGreaterThan(0);
  expect(stream.closed).toBe(false);
  stream.close();
}

/** After the deadline has passed, the reflection stream still answers. */
async function reflectionStillAnswers(session: http2.ClientHttp2Session): Promise<string[]> {
  const stream = session.request({ ":method": "POST", ":path": REFLECTION_INFO, "content-type": "application/grpc", te: "trailers" }, { endStream: false });
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  await new Promise((r) => setTimeout(r, DEADLINE_MS * 2.5));
  expect(stream.closed).toBe(false);
  stream.write(listServicesFrame());
  // Wait for one whole response message (5-byte prefix + its length).
  const complete = () => {
    const data = Buffer.concat(chunks);
    return data.length >= 5 && data.length >= 5 + data.readUInt32BE(1);
  };
  while (!complete()) await new Promise((r) => stream.once("data", r));
  stream.close();
  const data = Buffer.concat(chunks);
  const response = fromBinary(v1.ServerReflectionResponseSchema, data.subarray(5, 5 + data.readUInt32BE(1)));
  return response.messageResponse.case === "listServicesResponse" ? response.messageResponse.value.service.map((s) => s.name) : [];
}

describe("stalled request bodies on the public port (h2c)", () => {
  let server: RunningServer;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    const health = new HealthState();
    server = await startPublicServer({
      config: loadConfig({ PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", ...ENV }),
      logger: silentLogger,
      routes: (router) => registerRoutes(router, { auth: unimplementedAuthService(), session: unimplementedSessionService(), account: unimplementedAccountService(), health }),
    });
    session = await connect(server.port);
  });
  afterAll(async () => {
    session?.destroy();
    await server?.close(0);
  });

  it("announces HTTP2_MAX_CONCURRENT_STREAMS", () => {
    expect(session.remoteSettings.maxConcurrentStreams).toBe(40);
  });

  it("resets a unary request whose body never arrives once REQUEST_BODY_TIMEOUT_MS has passed", async () => {
    const stalled = [stalledRequest(session, "/cypher.auth.v1.AuthService/LoginInit"), stalledRequest(session, "/cypher.session.v1.SessionService/WatchRevocations")];
    for (const { closed } of stalled) {
      const outcome = await within(closed, DEADLINE_MS * 5);
      expect(outcome).not.toBe("still open");
      const { rstCode, afterMs } = outcome as { rstCode: number; afterMs: number };
      expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(afterMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    }
    // The connection itself carries on.
    expect(session.closed || session.destroyed).toBe(false);
  });

  it("leaves a call whose request is a stream by design (reflection) open past the deadline", async () => {
    expect(await reflectionStillAnswers(session)).toContain("cypher.auth.v1.AuthService");
  });

  it("leaves a server stream whose request arrived in time open past the deadline", async () => {
    await watchStaysOpen(session);
  });
});

describe("stalled request bodies on the internal grpc-js port", () => {
  let ctx: TestContext;
  let h: SessionHarness;
  let server: RunningGrpcServer;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    ctx = await createTestContext({ env: ENV });
    h = await createSessionHarness(ctx);
    const health = new HealthState();
    health.setServing(true);
    server = await startGrpcServer({ config: { ...ctx.config, grpcPort: 0, grpcHost: "127.0.0.1" }, logger: silentLogger, session: h.module.internalService, admin: createAdminModule(ctx, { revocations: h.module.liveness }).service, health });
    session = await connect(server.port);
  });
  afterAll(async () => {
    session?.destroy();
    await server?.close(0);
    await h?.close();
    await ctx?.close();
  });

  it("announces HTTP2_MAX_CONCURRENT_STREAMS", () => {
    expect(session.remoteSettings.maxConcurrentStreams).toBe(40);
  });

  it("resets a unary request whose body never arrives once REQUEST_BODY_TIMEOUT_MS has passed", async () => {
    const stalled = [stalledRequest(session, "/cypher.session.v1.SessionService/VerifySession"), stalledRequest(session, "/grpc.health.v1.Health/Check")];
    for (const { closed } of stalled) {
      const outcome = await within(closed, DEADLINE_MS * 5);
      expect(outcome).not.toBe("still open");
      const { rstCode, afterMs } = outcome as { rstCode: number; afterMs: number };
      expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(afterMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    }
    expect(session.closed || session.destroyed).toBe(false);
  });

  it("leaves a call whose request is a stream by design (reflection) open past the deadline", async () => {
    expect(await reflectionStillAnswers(session)).toContain("cypher.session.v1.SessionService");
  });

  it("leaves a server stream whose request arrived in time open past the deadline", async () => {
    await watchStaysOpen(session);
  });
});
