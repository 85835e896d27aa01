import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  AUTHENTICATION_FAILED_MESSAGE,
  CypherError,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
  unauthenticated,
  unavailable,
  type ErrorCode,
} from "../../server/errors.js";
import { createLogger } from "../../server/logger.js";
import {
  ERROR_DOMAIN,
  INTERNAL_ERROR_MESSAGE,
  STORAGE_UNAVAILABLE_MESSAGE,
  classifyError,
  isStorageUnavailableError,
  toConnectError,
} from "../../server/transport/error-mapping.js";

function capturingLogger() {
  const lines: string[] = [];
  return { logger: createLogger("debug", (line) => lines.push(line)), lines };
}

/** Builds an error the way node, pg and ioredis do: an Error with extra properties. */
function errorWith(message: string, props: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), props);
}

describe("toConnectError: domain errors", () => {
  const table: Array<[ErrorCode, Code]> = [
    ["invalid_argument", Code.InvalidArgument],
    ["already_exists", Code.AlreadyExists],
    ["unauthenticated", Code.Unauthenticated],
    ["resource_exhausted", Code.ResourceExhausted],
    ["failed_precondition", Code.FailedPrecondition],
    ["not_found", Code.NotFound],
    ["unavailable", Code.Unavailable],
  ];
  it.each(table)("%s -> %s", (code, expected) => {
    const mapped = toConnectError(new CypherError(code, "what the client may read"));
    expect(mapped.code).toBe(expected);
    expect(mapped.rawMessage).toBe("what the client may read");
  });

  it("invalid_argument carries every field violation as google.rpc.BadRequest", () => {
    const mapped = toConnectError(
      invalidArgument(
        { field: "username", description: "must be 3 to 64 characters" },
        { field: "registration_request", description: "is not an OPAQUE message" },
      ),
    );
    expect(mapped.code).toBe(Code.InvalidArgument);
    const [badRequest, ...more] = mapped.findDetails(BadRequestSchema);
    expect(more).toEqual([]);
    expect(badRequest?.fieldViolations.map((v) => [v.field, v.description])).toEqual([
      ["username", "must be 3 to 64 characters"],
      ["registration_request", "is not an OPAQUE message"],
    ]);
  });

  it("unauthenticated keeps the one generic message and puts the reason in google.rpc.ErrorInfo", () => {
    const mapped = toConnectError(unauthenticated("TOKEN_EXPIRED"));
    expect(mapped.code).toBe(Code.Unauthenticated);
    expect(mapped.rawMessage).toBe(AUTHENTICATION_FAILED_MESSAGE);
    expect(mapped.findDetails(ErrorInfoSchema).map((i) => [i.reason, i.domain])).toEqual([["TOKEN_EXPIRED", ERROR_DOMAIN]]);
    expect(ERROR_DOMAIN).toBe("cypher.dev");
  });

  it("resource_exhausted tells when to retry with google.rpc.RetryInfo", () => {
    const mapped = toConnectError(resourceExhausted(61_250));
    expect(mapped.code).toBe(Code.ResourceExhausted);
    const [retry] = mapped.findDetails(RetryInfoSchema);
    expect(retry?.retryDelay?.seconds).toBe(61n);
    expect(retry?.retryDelay?.nanos).toBe(250_000_000);
  });

  it("the other codes carry no details", () => {
    for (const err of [alreadyExists("username taken"), failedPrecondition("already enrolled"), notFound("no such session"), unavailable()]) {
      expect(toConnectError(err).details).toEqual([]);
    }
  });
});

describe("toConnectError: everything else", () => {
  it("passes an existing ConnectError through unchanged", () => {
    const original = new ConnectError("nope", Code.PermissionDenied);
    expect(toConnectError(original)).toBe(original);
    expect(classifyError(original)).toBe("connect");
  });

  it("answers an unexpected error with Internal \"internal error\" and logs only its name and message", () => {
    const { logger, lines } = capturingLogger();
    const bug = new TypeError("cannot read properties of undefined (reading 'opaque_record')");
    const mapped = toConnectError(bug, logger, "/cypher.auth.v1.AuthService/LoginInit");
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe(INTERNAL_ERROR_MESSAGE);
    expect(mapped.details).toEqual([]);
    expect(mapped.message).not.toContain("opaque_record");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      level: "error",
      method: "/cypher.auth.v1.AuthService/LoginInit",
      error: { name: "TypeError", message: bug.message },
    });
    expect(lines[0]).not.toContain("    at "); // no stack trace
  });

  it("does not leak a SQL error's text or detail to the client", () => {
    const sqlError = errorWith('duplicate key value violates unique constraint "users_username_key"', {
      code: "23505",
      detail: "Key (username)=(alice) already exists.",
    });
    const mapped = toConnectError(sqlError, capturingLogger().logger);
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.message).toBe(`[internal] ${INTERNAL_ERROR_MESSAGE}`);
  });

  it("maps a fired AbortSignal to Canceled or DeadlineExceeded, not to a logged Internal", () => {
    const { logger, lines } = capturingLogger();
    const cancelled = new AbortController();
    cancelled.abort();
    expect(toConnectError(cancelled.signal.reason, logger).code).toBe(Code.Canceled);
    expect(toConnectError(new DOMException("The operation was aborted due to timeout", "TimeoutError"), logger).code).toBe(
      Code.DeadlineExceeded,
    );
    expect(lines.filter((l) => JSON.parse(l).level !== "debug")).toEqual([]);
  });

  it("answers a thrown non-Error with Internal", () => {
    expect(toConnectError("a string", capturingLogger().logger).code).toBe(Code.Internal);
    expect(toConnectError(undefined, capturingLogger().logger).code).toBe(Code.Internal);
  });
});

describe("storage outages -> Unavailable", () => {
  const outages: Array<[string, unknown]> = [
    ["pg: connection refused", errorWith("connect ECONNREFUSED 127.0.0.1:5432", { code: "ECONNREFUSED", errno: -111 })],
    ["pg: connection reset", errorWith("read ECONNRESET", { code: "ECONNRESET" })],
    ["pg: DNS failure", errorWith("getaddrinfo ENOTFOUND db", { code: "ENOTFOUND" })],
    ["pg: admin shutdown (57P01)", errorWith("terminating connection due to administrator command", { code: "57P01" })],
    ["pg: cannot connect now (57P03)", errorWith("the database system is starting up", { code: "57P03" })],
    ["pg: connection failure (08006)", errorWith("connection failure", { code: "08006" })],
    ["pg: connection does not exist (08003)", errorWith("connection does not exist", { code: "08003" })],
    ["pg: Connection terminated unexpectedly", new Error("Connection terminated unexpectedly")],
    ["pg-pool: connect timeout", new Error("timeout exceeded when trying to connect")],
    ["pg: dual-stack refusal (AggregateError)", new AggregateError([errorWith("connect ECONNREFUSED ::1:5432", { code: "ECONNREFUSED" })], "")],
    ["ioredis: Connection is closed.", new Error("Connection is closed.")],
    ["ioredis: MaxRetriesPerRequestError", Object.assign(new Error("Reached the max retries per request limit (which is 20)."), { name: "MaxRetriesPerRequestError" })],
    ["ioredis: offline queue disabled", new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    ["redis: LOADING", Object.assign(new Error("LOADING Redis is loading the dataset in memory"), { name: "ReplyError" })],
    ["wrapped in a cause", new Error("query failed", { cause: errorWith("connect ECONNREFUSED", { code: "ECONNREFUSED" }) })],
  ];
  it.each(outages)("%s", (_label, err) => {
    const { logger, lines } = capturingLogger();
    expect(isStorageUnavailableError(err)).toBe(true);
    expect(classifyError(err)).toBe("storage_unavailable");
    const mapped = toConnectError(err, logger);
    expect(mapped.code).toBe(Code.Unavailable);
    expect(mapped.rawMessage).toBe(STORAGE_UNAVAILABLE_MESSAGE);
    expect(lines.map((l) => JSON.parse(l).level)).toEqual(["warn"]);
  });

  it("does not mistake query errors for outages", () => {
    const notOutages = [
      errorWith("syntax error at or near \"SELEC\"", { code: "42601" }),
      errorWith("duplicate key value", { code: "23505" }),
      errorWith("invalid input syntax for type uuid", { code: "22P02" }),
      Object.assign(new Error("WRONGTYPE Operation against a key holding the wrong kind of value"), { name: "ReplyError" }),
      new RangeError("Invalid time value"),
    ];
    for (const err of notOutages) expect(classifyError(err)).toBe("unexpected");
  });

  it("a domain `unavailable` error keeps its own message", () => {
    expect(toConnectError(unavailable("keys are rotating")).rawMessage).toBe("keys are rotating");
  });
});
