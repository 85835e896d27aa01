/**
 * The one place where errors become Connect errors. Domain code throws `CypherError`; storage
 * drivers throw whatever they throw; this interceptor turns all of it into a ConnectError whose code
 * follows the error table in docs/architecture.md and whose message never carries a stack, SQL or a secret.
 *
 * - CypherError -> its code, with google.rpc details (BadRequest, ErrorInfo, RetryInfo).
 * - PostgreSQL / Redis unreachable -> Unavailable, one generic message.
 * - ConnectError -> unchanged (connect itself, or a handler that knows what it is doing).
 * - AbortError / TimeoutError (an AbortSignal fired) -> Canceled / DeadlineExceeded.
 * - anything else -> logged here (name and message only), answered Internal "internal error".
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  BadRequestSchema,
  BadRequest_FieldViolationSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "../../gen/google/rpc/error_details_pb.js";
import { CypherError, type ErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";

/** google.rpc.ErrorInfo.domain of every error Cypher raises. */
export const ERROR_DOMAIN = "cypher.dev";
/** The whole message of an unexpected failure: nothing about what went wrong leaves the server. */
export const INTERNAL_ERROR_MESSAGE = "internal error";
/** The message when PostgreSQL or Redis cannot be reached (which one is for the logs only). */
export const STORAGE_UNAVAILABLE_MESSAGE = "a storage backend is unavailable, try again shortly";

const CONNECT_CODE: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  already_exists: Code.AlreadyExists,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  not_found: Code.NotFound,
  unavailable: Code.Unavailable,
};

export type ErrorKind =
  /** Already a ConnectError: passed through unchanged. */
  | "connect"
  /** A domain error with a stable code. */
  | "cypher"
  /** PostgreSQL or Redis cannot be reached right now. */
  | "storage_unavailable"
  /** An AbortSignal fired: the client went away (AbortError) or a timeout ran out (TimeoutError). */
  | "aborted"
  /** A bug or an unforeseen failure. */
  | "unexpected";

export function classifyError(err: unknown): ErrorKind {
  if (err instanceof ConnectError) return "connect";
  if (err instanceof CypherError) return "cypher";
  if (isStorageUnavailableError(err)) return "storage_unavailable";
  if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) return "aborted";
  return "unexpected";
}

// Socket-level failures as node reports them (pg and ioredis pass them on unchanged).
const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);

// PostgreSQL SQLSTATEs that mean "the server is not there for you right now", as opposed to "your
// query is wrong". Class 08 (connection exception) is matched as a class.
const PG_UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

// Messages pg, pg-pool and ioredis use for a connection that is gone or never came.
const UNAVAILABLE_MESSAGE_PATTERNS = [
  /^Connection terminated/, // pg: "Connection terminated unexpectedly" / "... due to connection timeout"
  /^timeout exceeded when trying to connect/, // pg-pool connectionTimeoutMillis
  /^Client has encountered a connection error and is not queryable/, // pg
  /^Cannot use a pool after calling end on the pool/, // pg-pool during shutdown
  /^Connection is closed\.?$/, // ioredis
  /^Stream isn't writeable and enableOfflineQueue options is false/, // ioredis
  /^None of startup nodes is available/, // ioredis cluster
  /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/, // Redis replies while it cannot serve
];

// ioredis error classes for "gave up reaching Redis".
const UNAVAILABLE_ERROR_NAMES = new Set(["MaxRetriesPerRequestError", "ClusterAllFailedError"]);

/**
 * True when `err` (or an error it wraps through `cause` or AggregateError) says PostgreSQL or Redis
 * cannot be reached, rather than that a query or command was wrong.
 */
export function isStorageUnavailableError(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== "object" || err === null) return false;
  const e = err as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string") {
    if (NETWORK_ERROR_CODES.has(e.code)) return true;
    if (/^[0-9A-Z]{5}$/.test(e.code) && (e.code.startsWith("08") || PG_UNAVAILABLE_SQLSTATES.has(e.code))) return true;
  }
  if (typeof e.name === "string" && UNAVAILABLE_ERROR_NAMES.has(e.name)) return true;
  if (typeof e.message === "string" && UNAVAILABLE_MESSAGE_PATTERNS.some((p) => p.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isStorageUnavailableError(inner, depth + 1))) return true;
  return e.cause !== undefined && isStorageUnavailableError(e.cause, depth + 1);
}

/** The Connect form of a domain error, with the google.rpc details clients rely on. */
export function connectErrorFromCypherError(err: CypherError): ConnectError {
  const code = CONNECT_CODE[err.code];
  switch (err.code) {
    case "invalid_argument":
      return new ConnectError(err.message, code, undefined, [
        {
          desc: BadRequestSchema,
          value: {
            fieldViolations: (err.details.violations ?? []).map((v) =>
              create(BadRequest_FieldViolationSchema, { field: v.field, description: v.description }),
            ),
          },
        },
      ]);
    case "unauthenticated":
      return new ConnectError(err.message, code, undefined, [
        { desc: ErrorInfoSchema, value: { reason: err.details.reason ?? "UNAUTHENTICATED", domain: ERROR_DOMAIN } },
      ]);
    case "resource_exhausted": {
      const retryAfterMs = err.details.retryAfterMs;
      if (retryAfterMs === undefined) return new ConnectError(err.message, code);
      const ms = Math.max(0, Math.ceil(retryAfterMs));
      return new ConnectError(err.message, code, undefined, [
        {
          desc: RetryInfoSchema,
          value: { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } },
        },
      ]);
    }
    default:
      return new ConnectError(err.message, code);
  }
}

/**
 * Any thrown value -> the ConnectError a client may see. `logger` hears about storage outages and
 * unexpected errors (name, message and code only: never a stack or a request field).
 */
export function toConnectError(err: unknown, logger?: Logger, method?: string): ConnectError {
  switch (classifyError(err)) {
    case "connect":
      return err as ConnectError;
    case "cypher":
      return connectErrorFromCypherError(err as CypherError);
    case "storage_unavailable":
      logger?.warn("storage unavailable", { method, error: describe(err) });
      return new ConnectError(STORAGE_UNAVAILABLE_MESSAGE, Code.Unavailable);
    case "aborted": {
      // Not a bug: usually the client is gone and will never read this.
      const timedOut = (err as Error).name === "TimeoutError";
      logger?.debug("rpc aborted", { method, error: describe(err) });
      return timedOut
        ? new ConnectError("deadline exceeded", Code.DeadlineExceeded)
        : new ConnectError("canceled", Code.Canceled);
    }
    case "unexpected":
      logger?.error("unexpected error", { method, error: describe(err) });
      return new ConnectError(INTERNAL_ERROR_MESSAGE, Code.Internal);
  }
}

function describe(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === "string" ? { code } : {}) };
  }
  return { name: typeof err, message: "non-Error value thrown" };
}

/**
 * Maps every error of a call, unary or streaming, at the moment it is thrown. Put it inside the
 * logging interceptor so that the log shows the code the client got.
 */
export function createErrorMappingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const method = `/${req.service.typeName}/${req.method.name}`;
    let res;
    try {
      res = await next(req);
    } catch (err) {
      throw toConnectError(err, logger, method);
    }
    if (!res.stream) return res;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (err) {
          throw toConnectError(err, logger, method);
        }
      })(),
    };
  };
}
