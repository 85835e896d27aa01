/**
 * Serves a Connect `ServiceImpl` on grpc-js: the internal port runs the very implementations the
 * public port runs. Per call: a lazy HandlerContext (call-context.ts), the implementation, and then
 * what the public port's two interceptors do, in the same order:
 *  - errors: `toConnectError` (server/transport/error-mapping.ts, the one place domain errors are
 *    mapped), then the same code, message and google.rpc details as a grpc-js status;
 *  - logs, with the public port's fields (method, code, durationMs, peer, protocol, stream) plus
 *    `listener: "internal"`, never a body or a header: one line per failed call and per stream
 *    when it ends (a client that cancels is logged as "canceled"); successful unary calls are
 *    counted into a summary line per method instead (call-summary.ts), and get their own line only
 *    at debug level;
 *  - metrics (rpc-metrics.ts), when given: every call, with the code it was answered with.
 */
import { create, isMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Readable } from "node:stream";
import type { Logger } from "../logger.js";
import type { RpcPortMetrics } from "../metrics/rpc-metrics.js";
import { toConnectError } from "../transport/error-mapping.js";
import { GrpcCallContext } from "./call-context.js";
import type { CallSummary } from "./call-summary.js";
import { grpcStatusOf, toMetadata } from "./grpc-status.js";

export interface AdapterOptions {
  logger: Logger;
  /** Aborted when the port's grace period runs out: handlers still running are told. */
  shutdownSignal: AbortSignal;
  /** Proxies whose X-Forwarded-For entries requestMeta() may use (config.trustProxyHops; 0: none). */
  trustedProxyHops: number;
  /** Where successful unary calls are counted. */
  summary: CallSummary;
  /** Where every call is counted for /metrics (rpc-metrics.ts); absent: not counted. */
  rpcMetrics?: RpcPortMetrics;
}

type AnyImpl = (request: unknown, context: GrpcCallContext) => unknown;
type Writable = ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;

export function adaptService<S extends DescService>(service: S, impl: ServiceImpl<S>, options: AdapterOptions): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn = (impl as unknown as Record<string, AnyImpl>)[method.localName]!.bind(impl);
    handlers[method.name] = adaptMethod(method, fn, options);
  }
  return handlers;
}

function adaptMethod(method: DescMethod, fn: AnyImpl, options: AdapterOptions): UntypedHandleCall {
  const path = `/${method.parent.typeName}/${method.name}`;
  const { logger, trustedProxyHops, shutdownSignal } = options;
  const output = method.output;
  const streaming = method.methodKind !== "unary";
  const message = (value: unknown) => (isMessage(value, output) ? value : create(output, value as never));
  const tally = options.summary.tally(path);
  const eachSuccessToo = logger.enabled("debug"); // a logger's level is fixed when it is made
  // Made once per method: a call then costs a few array increments (rpc-metrics.ts).
  const series = options.rpcMetrics?.series(method);

  const log = (startedMs: number, ctx: GrpcCallContext, error: ConnectError | undefined) => {
    const durationMs = performance.now() - startedMs;
    series?.finish(error === undefined ? 0 : error.code, durationMs);
    const summarized = error === undefined && !streaming;
    if (summarized) {
      tally.add(durationMs);
      if (!eachSuccessToo) return;
    }
    const fields = {
      method: path,
      code: error === undefined ? "ok" : codeToString(error.code),
      durationMs: Math.round(durationMs * 10) / 10,
      peer: ctx.peer,
      protocol: "grpc",
      stream: streaming,
      listener: "internal",
    };
    if (summarized) logger.debug("rpc", fields);
    else if (error?.code === Code.Internal) logger.warn("rpc", fields);
    else logger.info("rpc", fields);
  };

  /** Answers a unary (or client-streaming) call: the value, or the error as a status. */
  const answer = (
    call: ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    ctx: GrpcCallContext,
    startedMs: number,
    value: unknown,
    thrown: unknown,
  ) => {
    let response: unknown;
    if (thrown === undefined) {
      try {
        response = message(value);
      } catch (error) {
        thrown = error;
      }
    }
    const header = ctx.responseHeaderIfSet;
    if (header !== undefined && hasAny(header)) call.sendMetadata(toMetadata(header));
    if (thrown === undefined) {
      const trailer = ctx.responseTrailerIfSet;
      callback(null, response, trailer !== undefined && hasAny(trailer) ? toMetadata(trailer) : undefined);
      log(startedMs, ctx, undefined);
    } else {
      const error = toConnectError(thrown, logger, path);
      callback(grpcStatusOf(error, ctx.responseTrailerIfSet));
      log(startedMs, ctx, error);
    }
    ctx.finish();
  };

  switch (method.methodKind) {
    case "unary":
    case "client_streaming":
      // The hot path (VerifySession). No named closures per call: under tsx (esbuild keepNames)
      // each one costs a defineProperty.
      return (call: ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const startedMs = performance.now();
        series?.start();
        const ctx = new GrpcCallContext(method, call, trustedProxyHops, shutdownSignal);
        let result: unknown;
        try {
          result = fn(method.methodKind === "unary" ? (call as ServerUnaryCall<unknown, unknown>).request : requests(call as ServerReadableStream<unknown, unknown>), ctx);
        } catch (error) {
          answer(call, callback, ctx, startedMs, undefined, error ?? new Error("undefined thrown"));
          return;
        }
        if (result instanceof Promise) {
          result.then(
            (value) => answer(call, callback, ctx, startedMs, value, undefined),
            (error: unknown) => answer(call, callback, ctx, startedMs, undefined, error ?? new Error("undefined thrown")),
          );
        } else {
          answer(call, callback, ctx, startedMs, result, undefined);
        }
      };

    case "server_streaming":
    case "bidi_streaming":
      return (call: Writable) => {
        const startedMs = performance.now();
        series?.start();
        const ctx = new GrpcCallContext(method, call, trustedProxyHops, shutdownSignal);
        void ctx.peer; // read (and kept) now: a connection gone by the time the stream ends has no address
        const input = method.methodKind === "server_streaming" ? (call as ServerWritableStream<unknown, unknown>).request : requests(call as ServerDuplexStream<unknown, unknown>);
        const responses = (async function* () {
          yield* fn(input, ctx) as AsyncIterable<unknown>;
        })();
        void stream(call, ctx, responses).then(
          () => log(startedMs, ctx, call.cancelled ? new ConnectError("client went away", Code.Canceled) : undefined),
          (thrown: unknown) => {
            const error = toConnectError(thrown, logger, path);
            if (!call.cancelled) call.emit("error", grpcStatusOf(error, ctx.responseTrailerIfSet));
            log(startedMs, ctx, call.cancelled ? new ConnectError("client went away", Code.Canceled) : error);
          },
        ).finally(() => ctx.finish());
      };
  }

  /** Writes every response (waiting while the client reads slowly), then the OK status. */
  async function stream(call: Writable, ctx: GrpcCallContext, responses: AsyncIterable<unknown>): Promise<void> {
    const signal = ctx.signal; // created now: a stream must notice a client that leaves
    let headersSent = false;
    const sendHeaders = () => {
      if (headersSent) return;
      headersSent = true;
      const header = ctx.responseHeaderIfSet;
      if (header !== undefined && hasAny(header)) call.sendMetadata(toMetadata(header));
    };
    for await (const value of responses) {
      if (signal.aborted) return;
      sendHeaders();
      if (!call.write(message(value))) await drained(call, signal);
    }
    if (signal.aborted) return;
    sendHeaders();
    const trailer = ctx.responseTrailerIfSet;
    call.end(trailer !== undefined && hasAny(trailer) ? toMetadata(trailer) : undefined);
  }
}

/**
 * The request messages of a client or bidi stream, as the async iterable a ServiceImpl takes. Not
 * destroyed when the iteration ends: the response side (and the status) still has to go out.
 */
function requests(call: ServerReadableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>): AsyncIterable<unknown> {
  return (call as unknown as Readable).iterator({ destroyOnReturn: false });
}

function drained(call: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    signal.addEventListener("abort", done);
  });
}

function hasAny(headers: Headers): boolean {
  for (const _ of headers.keys()) return true;
  return false;
}
