/**
 * One structured log line per RPC: method ("/pkg.Service/Method"), outcome code, duration, peer IP
 * and protocol.
 * Deliberately nothing else: request and response bodies and headers (authorization, cookies)
 * carry tokens and OPAQUE messages, so they never reach a log.
 *
 * Streaming calls are logged when the stream ends (completed, failed or cancelled by the client).
 * Calls that connect rejects before interceptors run (unparseable body, oversized message) are not
 * seen here.
 */
import { Code, ConnectError, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "../logger.js";
import { type CallObserver, createCallEndInterceptor } from "./call-end-interceptor.js";
import { requestMeta } from "./request-meta.js";

export function createLoggingInterceptor(logger: Logger): Interceptor {
  return createCallEndInterceptor(logCallObserver(logger));
}

/** The log line as a call observer (the public port combines it with its metrics'). */
export function logCallObserver(logger: Logger): CallObserver {
  return (req) => {
    const startedMs = performance.now();
    return (err) => {
      const code = err === undefined ? "ok" : codeToString(ConnectError.from(err).code);
      // requestMeta reads only the context values and request headers, which an interceptor has too.
      const { ip } = requestMeta({ values: req.contextValues, requestHeader: req.header } as HandlerContext);
      const fields = {
        method: `/${req.service.typeName}/${req.method.name}`,
        code,
        durationMs: Math.round((performance.now() - startedMs) * 10) / 10,
        peer: ip,
        protocol: protocolOf(req.header.get("content-type")),
        stream: req.stream,
      };
      if (err !== undefined && ConnectError.from(err).code === Code.Internal) logger.warn("rpc", fields);
      else logger.info("rpc", fields);
    };
  };
}

/** The RPC protocol, from the request's content type. */
export function protocolOf(contentType: string | null): "grpc" | "grpc-web" | "connect" | "unknown" {
  if (contentType === null) return "connect"; // Connect GET requests carry no body and no content type
  const type = contentType.toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  if (type.startsWith("application/connect+") || type.startsWith("application/json") || type.startsWith("application/proto")) {
    return "connect";
  }
  return "unknown";
}
