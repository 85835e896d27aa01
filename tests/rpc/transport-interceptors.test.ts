/**
 * The interceptors every call goes through, on an in-memory transport: errors become the codes of
 * docs/architecture.md's error table for unary and streaming calls alike, and each call leaves exactly one log line that
 * holds no secret.
 */
import { Code, ConnectError, createClient, createRouterTransport, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { invalidArgument, unauthenticated } from "../../server/errors.js";
import { createLogger } from "../../server/logger.js";
import { createErrorMappingInterceptor } from "../../server/transport/error-mapping.js";
import { createLoggingInterceptor } from "../../server/transport/logging-interceptor.js";

/** Health, bent into a test double: `service` names what to throw. */
function failingHealth(): ServiceImpl<typeof Health> {
  const failure = (what: string): unknown => {
    switch (what) {
      case "cypher":
        return invalidArgument({ field: "username", description: "too short" });
      case "auth":
        return unauthenticated("TOKEN_REVOKED");
      case "postgres":
        return Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:5432"), { code: "ECONNREFUSED" });
      case "bug":
        return new Error("SELECT secret_column FROM users WHERE password = 'hunter2'");
      default:
        return undefined;
    }
  };
  return {
    check(req) {
      const err = failure(req.service);
      if (err) throw err;
      return { status: ServingStatus.SERVING };
    },
    async *watch(req) {
      yield { status: ServingStatus.SERVING };
      const err = failure(req.service);
      if (err) throw err;
    },
  };
}

function setup() {
  const lines: string[] = [];
  const logger = createLogger("debug", (line) => lines.push(line));
  const routes = (router: ConnectRouter) => router.service(Health, failingHealth());
  const transport = createRouterTransport(routes, {
    router: { interceptors: [createLoggingInterceptor(logger), createErrorMappingInterceptor(logger)] },
  });
  const rpcLines = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "rpc");
  return { client: createClient(Health, transport), lines, rpcLines };
}

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const m of stream) seen.push(m);
  return seen;
}

describe("error mapping interceptor", () => {
  it("maps a domain error with its details (unary)", async () => {
    const { client } = setup();
    const err = await client.check({ service: "cypher" }).then(() => undefined, (e) => ConnectError.from(e));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("username");
  });

  it("maps a domain error thrown in the middle of a server stream", async () => {
    const { client } = setup();
    const seen: unknown[] = [];
    const err = await (async () => {
      for await (const m of client.watch({ service: "auth" })) seen.push(m);
    })().then(() => undefined, (e) => ConnectError.from(e));
    expect(seen).toHaveLength(1);
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("TOKEN_REVOKED");
  });

  it("answers Unavailable when storage cannot be reached, without naming the host", async () => {
    const { client } = setup();
    for (const call of [() => client.check({ service: "postgres" }), () => drain(client.watch({ service: "postgres" }))]) {
      const err = await call().then(() => undefined, (e) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).message).not.toContain("10.0.0.5");
    }
  });

  it("answers Internal \"internal error\" for a bug, and nothing of its message", async () => {
    const { client, lines } = setup();
    for (const call of [() => client.check({ service: "bug" }), () => drain(client.watch({ service: "bug" }))]) {
      const err = ConnectError.from(await call().catch((e) => e));
      expect(err.code).toBe(Code.Internal);
      expect(err.rawMessage).toBe("internal error");
    }
    // The server's own log does have it, for the operator.
    expect(lines.filter((l) => l.includes("secret_column") && l.includes('"level":"error"'))).toHaveLength(2);
  });
});

describe("logging interceptor", () => {
  it("writes one line per unary call with method, code, duration, peer and protocol", async () => {
    const { client, rpcLines } = setup();
    await client.check({ service: "" });
    await client.check({ service: "cypher" }).catch(() => {});
    expect(rpcLines()).toHaveLength(2);
    const [ok, failed] = rpcLines();
    expect(ok).toMatchObject({ level: "info", method: "/grpc.health.v1.Health/Check", code: "ok", peer: "unknown", stream: false });
    expect(typeof ok!.durationMs).toBe("number");
    expect(["connect", "grpc", "grpc-web"]).toContain(ok!.protocol);
    expect(failed).toMatchObject({ code: "invalid_argument" });
  });

  it("logs a server stream once, when it ends, with the code it ended with", async () => {
    const { client, rpcLines } = setup();
    await drain(client.watch({ service: "" }));
    await drain(client.watch({ service: "auth" })).catch(() => {});
    expect(rpcLines().map((l) => [l.method, l.code, l.stream])).toEqual([
      ["/grpc.health.v1.Health/Watch", "ok", true],
      ["/grpc.health.v1.Health/Watch", "unauthenticated", true],
    ]);
  });

  it("never logs request headers or bodies", async () => {
    const { client, lines } = setup();
    await client.check(
      { service: "" },
      { headers: { authorization: "Bearer v4.public.SECRET-TOKEN", cookie: "refresh=SECRET-COOKIE" } },
    );
    await client.check({ service: "SECRET-BODY-VALUE" }).catch(() => {});
    expect(lines.join("\n")).not.toMatch(/SECRET/);
  });
});
