/**
 * gRPC health and server reflection, on an in-memory transport with the real route table.
 */
import { fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { HealthState } from "../../server/transport/health.js";
import { registerRoutes } from "../../server/transport/routes.js";
import { unimplementedAccountService, unimplementedAuthService, unimplementedSessionService } from "../support/unimplemented-services.js";

function setup(extra: DescService[] = []) {
  const health = new HealthState();
  const transport = createRouterTransport((router) =>
    registerRoutes(router, {
      auth: unimplementedAuthService(),
      session: unimplementedSessionService(),
      account: unimplementedAccountService(),
      health,
      reflectionServices: extra,
    }),
  );
  return { health, transport };
}

/** Reads from `it` until `predicate` holds for the collected values. */
async function take<T>(it: AsyncIterator<T>, count: number): Promise<T[]> {
  const values: T[] = [];
  while (values.length < count) {
    const r = await it.next();
    if (r.done) break;
    values.push(r.value);
  }
  return values;
}

/** Pushes requests into a bidi call one at a time. */
function requestQueue<T>() {
  const pending: T[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  return {
    push(value: T) {
      pending.push(value);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (pending.length > 0) yield pending.shift()!;
        if (closed) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

describe("grpc.health.v1.Health", () => {
  it("is NOT_SERVING until setServing(true), for the server and each service", async () => {
    const { health, transport } = setup();
    const client = createClient(Health, transport);
    for (const service of ["", "cypher.auth.v1.AuthService", "cypher.session.v1.SessionService", "cypher.account.v1.AccountService"]) {
      expect((await client.check({ service })).status).toBe(ServingStatus.NOT_SERVING);
    }
    health.setServing(true);
    for (const service of ["", "cypher.auth.v1.AuthService", "cypher.session.v1.SessionService", "cypher.account.v1.AccountService"]) {
      expect((await client.check({ service })).status).toBe(ServingStatus.SERVING);
    }
    health.shutdown();
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    health.setServing(true); // too late: a draining server stays NOT_SERVING
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
  });

  it("answers NotFound for a service it does not know", async () => {
    const { transport } = setup();
    const err = await createClient(Health, transport)
      .check({ service: "no.such.Service" })
      .then(() => undefined, (e) => ConnectError.from(e));
    expect(err?.code).toBe(Code.NotFound);
  });

  it("Watch sends the current status, then each change, and ends at shutdown", async () => {
    const { health, transport } = setup();
    const it = createClient(Health, transport).watch({ service: "cypher.auth.v1.AuthService" })[Symbol.asyncIterator]();
    expect((await take(it, 1)).map((r) => r.status)).toEqual([ServingStatus.NOT_SERVING]);
    health.setServing(true);
    expect((await take(it, 1)).map((r) => r.status)).toEqual([ServingStatus.SERVING]);
    health.setServing(true); // no change, no message
    health.shutdown();
    expect((await take(it, 2)).map((r) => r.status)).toEqual([ServingStatus.NOT_SERVING]);
  });

  it("Watch of an unknown service says SERVICE_UNKNOWN and stays open until the client leaves", async () => {
    const { transport } = setup();
    const abort = new AbortController();
    const it = createClient(Health, transport).watch({ service: "no.such.Service" }, { signal: abort.signal })[Symbol.asyncIterator]();
    expect((await take(it, 1)).map((r) => r.status)).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    abort.abort();
    await expect(it.next()).rejects.toMatchObject({ code: Code.Canceled });
  });

  it("a client leaving stops the watcher on the server", async () => {
    const health = new HealthState();
    const abort = new AbortController();
    const watching = health.watch("", abort.signal);
    expect((await watching.next()).value).toBe(ServingStatus.NOT_SERVING);
    const next = watching.next();
    abort.abort();
    expect((await next).done).toBe(true);
  });
});

describe("server reflection", () => {
  const versions = [
    {
      name: "v1",
      service: v1.ServerReflection,
      // Both versions share field names, so one request shape serves both.
      client: (transport: ReturnType<typeof setup>["transport"]) => createClient(v1.ServerReflection, transport),
    },
    {
      name: "v1alpha",
      service: v1alpha.ServerReflection,
      client: (transport: ReturnType<typeof setup>["transport"]) => createClient(v1alpha.ServerReflection, transport),
    },
  ] as const;

  for (const version of versions) {
    describe(version.name, () => {
      type Request = { messageRequest: { case: string; value: unknown } };
      async function ask(requests: Request[]) {
        const { transport } = setup();
        const client = version.client(transport);
        const answers = [];
        // Every question is answered on one stream, in order.
        for await (const answer of client.serverReflectionInfo(
          (async function* () {
            yield* requests as never[];
          })(),
        )) {
          answers.push(answer);
        }
        return answers;
      }

      function files(answer: { messageResponse: { case: string | undefined; value?: unknown } }): FileDescriptorProto[] {
        expect(answer.messageResponse.case).toBe("fileDescriptorResponse");
        const value = answer.messageResponse.value as { fileDescriptorProto: Uint8Array[] };
        return value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
      }

      it("lists every public service, itself included", async () => {
        const [answer] = await ask([{ messageRequest: { case: "listServices", value: "" } }]);
        expect(answer?.messageResponse.case).toBe("listServicesResponse");
        const names = (answer?.messageResponse.value as { service: { name: string }[] }).service.map((s) => s.name);
        expect(names.sort()).toEqual([
          "cypher.account.v1.AccountService",
          "cypher.auth.v1.AuthService",
          "cypher.session.v1.SessionService",
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]);
      });

      it("finds the file of a service, a method, a message and a nested enum, with its imports", async () => {
        const answers = await ask([
          { messageRequest: { case: "fileContainingSymbol", value: "cypher.session.v1.SessionService" } },
          { messageRequest: { case: "fileContainingSymbol", value: "cypher.auth.v1.AuthService.LoginInit" } },
          { messageRequest: { case: "fileContainingSymbol", value: "cypher.session.v1.TokenPair" } },
          { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" } },
          { messageRequest: { case: "fileContainingSymbol", value: ".cypher.auth.v1.LoginInitRequest.ke1" } },
        ]);
        const [session, login, tokenPair, servingStatus, ke1] = answers.map(files);
        expect(ke1![0]!.name).toBe("cypher/auth/v1/auth.proto");
        expect(session!.map((f) => f.name)).toEqual(["cypher/session/v1/session.proto", "google/protobuf/timestamp.proto"]);
        expect(session![0]!.service[0]!.method.map((m) => m.name)).toContain("VerifySession");
        expect(session![1]!.messageType.map((m) => m.name)).toEqual(["Timestamp"]);
        expect(login![0]!.name).toBe("cypher/auth/v1/auth.proto");
        expect(tokenPair![0]!.name).toBe("cypher/session/v1/session.proto");
        expect(servingStatus!.map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);
      });

      it("finds a file by name", async () => {
        const [answer] = await ask([{ messageRequest: { case: "fileByFilename", value: "cypher/auth/v1/auth.proto" } }]);
        const [auth] = files(answer!);
        expect(auth!.package).toBe("cypher.auth.v1");
        expect(auth!.service.map((s) => s.name)).toEqual(["AuthService"]);
      });

      it("answers NOT_FOUND for unknown symbols and files without ending the stream", async () => {
        const answers = await ask([
          { messageRequest: { case: "fileContainingSymbol", value: "cypher.auth.v1.NoSuchThing" } },
          { messageRequest: { case: "fileContainingSymbol", value: "cypher.auth.v1.AuthService.NoSuchMethod" } },
          { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
          { messageRequest: { case: "listServices", value: "" } },
        ]);
        expect(answers.map((a) => a.messageResponse.case)).toEqual([
          "errorResponse",
          "errorResponse",
          "errorResponse",
          "listServicesResponse",
        ]);
        for (const answer of answers.slice(0, 3)) {
          expect((answer.messageResponse.value as { errorCode: number }).errorCode).toBe(5);
        }
        // Each answer names the question it answers.
        expect(answers[0]!.originalRequest?.messageRequest.value).toBe("cypher.auth.v1.NoSuchThing");
      });
    });
  }

  it("also lists extra services it is given", async () => {
    const { transport } = setup([Health]); // a duplicate is listed once
    const queue = requestQueue<v1.ServerReflectionRequest>();
    const it = createClient(v1.ServerReflection, transport).serverReflectionInfo(queue)[Symbol.asyncIterator]();
    queue.push({ messageRequest: { case: "listServices", value: "*" } } as v1.ServerReflectionRequest);
    const [answer] = await take(it, 1);
    const names = (answer!.messageResponse.value as v1.ListServiceResponse).service.map((s) => s.name);
    expect(names.filter((n) => n === "grpc.health.v1.Health")).toHaveLength(1);
    queue.close();
    expect((await it.next()).done).toBe(true);
  });
});
