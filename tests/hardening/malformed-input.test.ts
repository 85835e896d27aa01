/**
 * Malformed input over every protocol, against a real Cypher on port 0: every RPC of AuthService,
 * SessionService and AccountService gets generated garbage (fast-check) through Connect JSON, Connect binary, gRPC
 * and gRPC-Web clients, and raw bytes (random bodies, truncated and oversized envelopes, invalid
 * UTF-8, wrong content types) straight over HTTP/1.1 and HTTP/2. Every answer must carry a code
 * from the error table in docs/architecture.md (Internal only for the transport's "parse binary" answer), leak nothing,
 * and the server must still answer health checks; the error mapping must never have met an error
 * it did not know.
 */
import http2 from "node:http2";
import { create, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { isP256Point } from "../../server/auth/opaque/opaque-messages.js";
import { startHardeningServer, type HardeningServer } from "./support/hardening-server.js";
import {
  authorizationArb,
  codeArb,
  hostileString,
  ke1Bytes,
  ke3Bytes,
  NON_POINT_X,
  registrationRecordBytes,
  registrationRequestBytes,
  tokenArb,
  usernameArb,
  validPoint,
} from "./support/malformed-arbitraries.js";
import { ALLOWED_CODES, judge, leaksIn, PARSE_FAILURE_MESSAGE } from "./support/rpc-answers.js";

/** Typed cases per protocol and raw cases per wire format; together well over 10,000 per run. */
const TYPED_RUNS_PER_PROTOCOL = 1_800;
const RAW_RUNS = 3_000;

let s: HardeningServer;
const transports: Record<string, Transport> = {};

beforeAll(async () => {
  s = await startHardeningServer();
  const baseUrl = s.baseUrl;
  transports["connect+json"] = createConnectTransport({ baseUrl, httpVersion: "1.1" });
  transports["connect+proto"] = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true });
  transports["grpc"] = createGrpcTransport({ baseUrl });
  transports["grpc-web"] = createGrpcWebTransport({ baseUrl, httpVersion: "1.1" });
});

afterAll(async () => {
  await s?.stop();
});

async function expectHealthy(transport: Transport): Promise<void> {
  const res = await createClient(Health, transport).check({});
  expect(res.status).toBe(ServingStatus.SERVING);
}

interface TypedCase {
  service: typeof AuthService | typeof SessionService | typeof AccountService;
  method: string;
  request: Record<string, unknown>;
  authorization?: string;
}

const auth = (method: string, request: fc.Arbitrary<Record<string, unknown>>) =>
  request.map((r): TypedCase => ({ service: AuthService, method, request: r }));
const session = (method: string, request: fc.Arbitrary<Record<string, unknown>>, withBearer = false) =>
  (withBearer ? fc.tuple(request, authorizationArb) : fc.tuple(request, fc.constant(undefined))).map(
    ([r, authorization]): TypedCase => ({ service: SessionService, method, request: r, authorization }),
  );

const account = (method: string, request: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(request, authorizationArb).map(([r, authorization]): TypedCase => ({ service: AccountService, method, request: r, authorization }));

const secondFactor = fc.oneof(
  fc.constant({ case: undefined }),
  codeArb.map((value) => ({ case: "totpCode" as const, value })),
  codeArb.map((value) => ({ case: "recoveryCode" as const, value })),
);

/** One case per RPC (each with its fields missing, empty, wrong or hostile). */
const typedCase: fc.Arbitrary<TypedCase> = fc.oneof(
  auth("RegisterInit", fc.record({ username: usernameArb, registrationRequest: registrationRequestBytes }, { requiredKeys: [] })),
  auth("RegisterFinish", fc.record({ username: usernameArb, registrationRecord: registrationRecordBytes }, { requiredKeys: [] })),
  auth("SetupTotp", fc.record({ enrollmentToken: tokenArb }, { requiredKeys: [] })),
  auth("VerifyTotpSetup", fc.record({ enrollmentToken: tokenArb, code: codeArb }, { requiredKeys: [] })),
  auth("LoginInit", fc.record({ username: usernameArb, ke1: ke1Bytes }, { requiredKeys: [] })),
  auth("LoginFinish", fc.record({ loginId: tokenArb, ke3: ke3Bytes }, { requiredKeys: [] })),
  session("CreateSession", fc.record({ loginToken: tokenArb, secondFactor, deviceName: hostileString }, { requiredKeys: [] })),
  session("VerifySession", fc.record({ accessToken: tokenArb }, { requiredKeys: [] })),
  session("RefreshSession", fc.record({ refreshToken: tokenArb }, { requiredKeys: [] })),
  session("Logout", fc.record({ allSessions: fc.boolean() }, { requiredKeys: [] }), true),
  session("ListSessions", fc.constant({}), true),
  session("RevokeSession", fc.record({ sessionId: fc.oneof(tokenArb, fc.uuid()) }, { requiredKeys: [] }), true),
  session("GetPublicKeys", fc.constant({}), true),
  account("GetAccount", fc.constant({})),
  account("Reauthenticate", fc.record({ loginToken: tokenArb, secondFactor }, { requiredKeys: [] })),
  account("ChangePasswordInit", fc.record({ reauthToken: tokenArb, registrationRequest: registrationRequestBytes }, { requiredKeys: [] })),
  account(
    "ChangePasswordFinish",
    fc.record({ reauthToken: tokenArb, registrationRecord: registrationRecordBytes, keepOtherSessions: fc.boolean() }, { requiredKeys: [] }),
  ),
  account("ReplaceTotpInit", fc.record({ reauthToken: tokenArb }, { requiredKeys: [] })),
  account("ReplaceTotpFinish", fc.record({ reauthToken: tokenArb, code: codeArb }, { requiredKeys: [] })),
  account("RegenerateRecoveryCodes", fc.record({ reauthToken: tokenArb }, { requiredKeys: [] })),
  account("DeleteAccount", fc.record({ reauthToken: tokenArb }, { requiredKeys: [] })),
);

function methodOf(service: TypedCase["service"], name: string): DescMethod {
  const method = service.methods.find((m) => m.name === name);
  if (!method) throw new TypeError(`no method ${name}`);
  return method;
}

async function callTyped(transport: Transport, c: TypedCase): Promise<unknown> {
  const client = createClient(c.service, transport) as unknown as Record<
    string,
    (req: unknown, options: { headers?: Record<string, string>; timeoutMs: number }) => Promise<unknown>
  >;
  const localName = methodOf(c.service, c.method).localName;
  try {
    await client[localName]!(c.request, {
      headers: c.authorization === undefined ? {} : { authorization: c.authorization },
      timeoutMs: 20_000,
    });
    return undefined;
  } catch (error) {
    return error;
  }
}

describe("typed malformed requests over every protocol", () => {
  for (const protocol of ["connect+json", "connect+proto", "grpc", "grpc-web"]) {
    it(`${protocol}: every RPC answers its documented code to ${TYPED_RUNS_PER_PROTOCOL} generated requests`, { timeout: 180_000 }, async () => {
      const transport = transports[protocol]!;
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(typedCase, async (c) => {
          runs++;
          const error = await callTyped(transport, c);
          const verdict = judge(c.method, error);
          if (!verdict.ok) throw new Error(`${protocol} ${c.method}: ${verdict.why}`);
        }),
        { numRuns: TYPED_RUNS_PER_PROTOCOL },
      );
      expect(runs).toBe(TYPED_RUNS_PER_PROTOCOL);
      await expectHealthy(transport);
      expect(s.unexpectedErrors()).toEqual([]);
    });
  }

  it("the generator's non-points really are not on P-256 (so the cases above test what they claim)", () => {
    for (const x of NON_POINT_X) {
      for (const prefix of [0x02, 0x03]) {
        const b = new Uint8Array(33);
        b[0] = prefix;
        b[32] = x;
        expect(isP256Point(b), `x=${x}`).toBe(false);
      }
    }
    expect(isP256Point(new Uint8Array([0x03, ...new Uint8Array(32).fill(0xff)]))).toBe(false);
    expect(isP256Point(validPoint())).toBe(true);
  });

  it("every OPAQUE field gets InvalidArgument naming the field for wrong lengths and non-points", async () => {
    const client = createClient(AuthService, transports["connect+proto"]!);
    const nonPoint = new Uint8Array([0x02, ...new Uint8Array(32).fill(0xff)]);
    const cases: Array<[string, () => Promise<unknown>]> = [
      ["registration_request", () => client.registerInit({ username: "valid-name", registrationRequest: nonPoint })],
      ["registration_request", () => client.registerInit({ username: "valid-name", registrationRequest: new Uint8Array(32) })],
      ["registration_record", () => client.registerFinish({ username: "valid-name", registrationRecord: new Uint8Array(128) })],
      ["registration_record", () => client.registerFinish({ username: "valid-name", registrationRecord: new Uint8Array([...nonPoint, ...new Uint8Array(96)]) })],
      ["ke1", () => client.loginInit({ username: "valid-name", ke1: new Uint8Array(99) })],
      ["ke1", () => client.loginInit({ username: "valid-name", ke1: new Uint8Array([...nonPoint, ...new Uint8Array(65)]) })],
      ["ke3", () => client.loginFinish({ loginId: "x", ke3: new Uint8Array(31) })],
    ];
    for (const [field, call] of cases) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect(Code[(error as ConnectError).code]).toBe("InvalidArgument");
      expect((error as ConnectError).rawMessage).toContain(field);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Raw bytes: what no generated client would send.

// The unary RPCs of the original contract (streaming ones added later have their own tests).
const RPCS: Array<{ path: string; input: DescMessage; name: string }> = [AuthService, SessionService, AccountService].flatMap((svc) =>
  svc.methods
    .filter((m) => m.methodKind === "unary" && m.name in ALLOWED_CODES)
    .map((m) => ({ path: `/${svc.typeName}/${m.name}`, input: m.input, name: m.name })),
);

type Wire = "connect+proto" | "connect+json" | "grpc-web" | "grpc";

interface RawAnswer {
  httpStatus: number;
  /** Connect or gRPC code name in lower snake case ("invalid_argument"), or undefined when none. */
  code: string | undefined;
  message: string;
}

function envelope(payload: Uint8Array, flags = 0, declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, declaredLength >>> 0);
  out.set(payload, 5);
  return out;
}

/** A body that parses as the request but with a string field holding invalid UTF-8 (tag 1, wire type 2). */
const invalidUtf8Field = fc
  .uint8Array({ minLength: 1, maxLength: 40 })
  .map((b) => new Uint8Array([0x0a, b.length + 2, 0xc3, 0x28, ...b]));

/** Bodies: random, truncated or padded encodings of a real request, invalid UTF-8, big. */
const rawBody = (input: DescMessage) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    invalidUtf8Field,
    fc.tuple(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 120 }), fc.nat()).map(([str, bytes, cut]) => {
      // A real encoding with every field set to something, then cut short or given trailing junk.
      const fields: Record<string, unknown> = {};
      for (const f of input.fields) fields[f.localName] = f.fieldKind === "scalar" && f.scalar === 9 ? str : f.fieldKind === "scalar" && f.scalar === 12 ? bytes : undefined;
      const full = toBinary(input, create(input, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))));
      return cut % 2 === 0 ? full.subarray(0, cut % (full.length + 1)) : new Uint8Array([...full, 0xff, 0x0f]);
    }),
    fc.constantFrom(new Uint8Array(0), new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), new Uint8Array([0x08]), new Uint8Array([0x0f])),
  );

const rawJson = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom("username", "ke1", "ke3", "loginId", "accessToken", "refreshToken", "sessionId", "allSessions", "totpCode", "registrationRequest", "x"), fc.jsonValue({ maxDepth: 1 })).map((v) => JSON.stringify(v)),
  fc.constantFrom("{", "[]", "null", '{"username":"\\ud800"}', '{"ke1":"!!!!"}', '{"allSessions":"yes"}', '{"username":{"a":1}}', "\u0000"),
);

interface RawCase {
  rpc: (typeof RPCS)[number];
  wire: Wire;
  body: Uint8Array | string;
  contentType?: string;
}

const rawCase: fc.Arbitrary<RawCase> = fc.constantFrom(...RPCS).chain((rpc) =>
  fc.oneof(
    rawBody(rpc.input).map((body): RawCase => ({ rpc, wire: "connect+proto", body })),
    rawJson.map((body): RawCase => ({ rpc, wire: "connect+json", body })),
    fc
      .tuple(rawBody(rpc.input), fc.constantFrom(0, 1, 0x80, 0xff), fc.oneof(fc.constant(-1), fc.nat({ max: 100_000 }), fc.constant(0xffffffff)), fc.boolean())
      .map(([payload, flags, declared, truncate]): RawCase => {
        const framed = envelope(payload, flags, declared < 0 ? payload.length : declared);
        return { rpc, wire: "grpc-web", body: truncate ? framed.subarray(0, Math.max(0, framed.length - 3)) : framed };
      }),
    fc
      .tuple(rawBody(rpc.input), fc.constantFrom(0, 1), fc.oneof(fc.constant(-1), fc.nat({ max: 100_000 })))
      .map(([payload, flags, declared]): RawCase => ({ rpc, wire: "grpc", body: envelope(payload, flags, declared < 0 ? payload.length : declared) })),
    fc
      .tuple(fc.uint8Array({ maxLength: 60 }), fc.constantFrom("text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data", "application/grpc-web-text", "", "application/json; charset=latin1", "application/protobuf"))
      .map(([body, contentType]): RawCase => ({ rpc, wire: "connect+proto", body, contentType })),
  ),
);

const CONNECT_HTTP_CODES: Record<number, string> = { 400: "invalid_argument", 401: "unauthenticated", 404: "not_found", 409: "already_exists", 412: "failed_precondition", 429: "resource_exhausted" };
const GRPC_CODES = ["ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"];

async function sendHttp1(c: RawCase): Promise<RawAnswer> {
  const contentType =
    c.contentType ?? (c.wire === "connect+json" ? "application/json" : c.wire === "connect+proto" ? "application/proto" : "application/grpc-web+proto");
  const headers: Record<string, string> = { "content-type": contentType, "connect-protocol-version": "1" };
  if (c.wire === "grpc-web") headers["x-grpc-web"] = "1";
  const res = await fetch(s.baseUrl + c.rpc.path, { method: "POST", headers, body: typeof c.body === "string" ? c.body : Buffer.from(c.body) });
  const body = new Uint8Array(await res.arrayBuffer());
  if (c.wire === "grpc-web") {
    const trailer = Buffer.from(body).toString("latin1");
    const status = res.headers.get("grpc-status") ?? /grpc-status: ?(\d+)/.exec(trailer)?.[1];
    const message = decodeURIComponent(res.headers.get("grpc-message") ?? /grpc-message: ?([^\r\n]*)/.exec(trailer)?.[1] ?? "");
    return { httpStatus: res.status, code: status === undefined ? undefined : GRPC_CODES[Number(status)], message };
  }
  if (res.status === 200) return { httpStatus: 200, code: "ok", message: "" };
  const text = Buffer.from(body).toString("utf8");
  try {
    const json = JSON.parse(text) as { code?: string; message?: string };
    return { httpStatus: res.status, code: json.code, message: json.message ?? "" };
  } catch {
    return { httpStatus: res.status, code: CONNECT_HTTP_CODES[res.status], message: text };
  }
}

let h2: http2.ClientHttp2Session | undefined;
function sendGrpc(c: RawCase): Promise<RawAnswer> {
  if (!h2 || h2.closed || h2.destroyed) h2 = http2.connect(s.baseUrl);
  const session = h2;
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": c.rpc.path, "content-type": "application/grpc+proto", te: "trailers" });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", () => {});
    stream.on("error", reject);
    stream.on("close", () => {
      const status = (trailers["grpc-status"] ?? headers["grpc-status"]) as string | undefined;
      const message = decodeURIComponent(((trailers["grpc-message"] ?? headers["grpc-message"]) as string | undefined) ?? "");
      resolve({ httpStatus: Number(headers[":status"]), code: status === undefined ? undefined : GRPC_CODES[Number(status)], message });
    });
    stream.end(c.body);
  });
}

const RAW_ALLOWED = new Set(["ok", "invalid_argument", "unauthenticated", "resource_exhausted", "already_exists", "failed_precondition", "not_found"]);

function judgeRaw(c: RawCase, a: RawAnswer): string | undefined {
  if (a.httpStatus === 415 && c.contentType !== undefined) return undefined; // unsupported media type: the Connect spec's answer
  if (a.code === undefined) return `no code (HTTP ${a.httpStatus})`;
  const leaks = leaksIn(a.message);
  if (leaks.length > 0) return `${a.code} leaks ${leaks.join(", ")}: ${a.message.slice(0, 200)}`;
  if (a.code === "internal" && PARSE_FAILURE_MESSAGE.test(a.message)) return undefined;
  // Envelope-level nonsense (an end-stream flag where the request should be) is the transport's to
  // name; its code is never Internal or Unknown.
  if (a.code === "unimplemented" && /^protocol error: /.test(a.message)) return undefined;
  if (!RAW_ALLOWED.has(a.code)) return `${a.code}: ${a.message.slice(0, 200)}`;
  if (a.code === "ok" && c.rpc.name !== "GetPublicKeys" && c.rpc.name !== "LoginInit" && c.rpc.name !== "RegisterInit") {
    return `${c.rpc.name} succeeded on a malformed body`;
  }
  return undefined;
}

describe("raw malformed bodies over HTTP/1.1 and HTTP/2", () => {
  afterAll(() => h2?.close());

  it(`${RAW_RUNS} random, truncated, oversized, mis-typed and invalid-UTF-8 bodies get a documented code and leak nothing`, { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(rawCase, async (c) => {
        const answer = c.wire === "grpc" ? await sendGrpc(c) : await sendHttp1(c);
        const problem = judgeRaw(c, answer);
        if (problem) throw new Error(`${c.wire} ${c.rpc.path} (${c.contentType ?? "default type"}): ${problem}`);
      }),
      { numRuns: RAW_RUNS },
    );
    await expectHealthy(transports["grpc"]!);
    await expectHealthy(transports["connect+json"]!);
    expect(s.unexpectedErrors()).toEqual([]);
  });

  it("an invalid UTF-8 string field is refused with the transport's parse error and nothing more, on every wire format", async () => {
    const body = new Uint8Array([0x0a, 0x03, 0xc3, 0x28, 0x41]);
    const rpc = RPCS.find((r) => r.name === "RegisterInit")!;
    for (const wire of ["connect+proto", "grpc-web", "grpc"] as const) {
      const c: RawCase = { rpc, wire, body: wire === "connect+proto" ? body : envelope(body) };
      const answer = wire === "grpc" ? await sendGrpc(c) : await sendHttp1(c);
      expect(answer.code, wire).toBe("internal");
      expect(answer.message, wire).toMatch(/^parse binary: [^/\n]*$/);
    }
  });
});
