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
import { requestMeta } from "./request-meta.js";

export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const startedMs = performance.now();
    let logged = false;
    const log = (err: unknown) => {
      if (logged) return;
      logged = true;
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

    let res;
    try {
      res = await next(req);
    } catch (err) {
      log(err);
      throw err;
    }
    if (!res.stream) {
      log(undefined);
      return res;
    }
    const messages = res.message;
    // A client that goes away may leave the stream un-finished: log it as cancelled then.
    const onAbort = () => log(new ConnectError("client went away", Code.Canceled));
    req.signal.addEventListener("abort", onAbort, { once: true });
    return {
      ...res,
      message: (async function* () {
        let failure: unknown;
        try {
          yield* messages;
        } catch (err) {
          failure = err;
          throw err;
        } finally {
          req.signal.removeEventListener("abort", onAbort);
          log(failure);
        }
      })(),
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
