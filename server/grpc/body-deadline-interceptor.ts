/**
 * The request-body deadline (server/transport/body-deadline.ts) on the internal grpc-js port.
 *
 * grpc-js (1.14) has no request timeout of its own: a stream whose client sends HEADERS and no
 * body waits forever, and even answering it (sendStatus, as grpc-js does on a grpc-timeout) only
 * half-closes it: the stream stays open, counted against the connection's stream limit, until
 * the client ends it. Its server options offer no per-stream hook either (max_connection_idle
 * does not count a connection with open streams as idle; max_connection_age would also cut
 * healthy WatchRevocations streams). What does end it is resetting the HTTP/2 stream, which
 * grpc-js does not expose: its server interceptors (public API, run when a call's headers
 * arrive) receive, as the first interceptor, its base call object, which holds the stream in a
 * `stream` property. This uses that property when it is an HTTP/2 stream, and says so in the log
 * once if a grpc-js upgrade takes it away (tests/integration/grpc-port.test.ts would then fail).
 */
import type http2 from "node:http2";
import type { ServerInterceptingCall, ServerInterceptor } from "@grpc/grpc-js";
import { armBodyDeadline } from "../transport/body-deadline.js";

export function bodyDeadlineInterceptor(timeoutMs: number, onMissingStream?: () => void): ServerInterceptor {
  let warned = false;
  return (method, call) => {
    // Handing the call on unwrapped is what grpc-js does itself with an empty interceptor list; its
    // type only asks for the wrapper class.
    const unwrapped = call as ServerInterceptingCall;
    if (method.requestStream) return unwrapped; // client and bidi streaming: the request is a stream by design
    const stream = (call as unknown as { stream?: unknown }).stream;
    if (isHttp2Stream(stream)) {
      armBodyDeadline(stream, timeoutMs);
    } else if (!warned) {
      warned = true;
      onMissingStream?.();
    }
    return unwrapped;
  };
}

/** node:http2 does not export its stream class: recognise one by what armBodyDeadline uses. */
function isHttp2Stream(value: unknown): value is http2.Http2Stream {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<http2.Http2Stream>;
  return typeof v.close === "function" && typeof v.once === "function" && "rstCode" in v && "session" in v;
}
