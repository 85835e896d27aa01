/**
 * A deadline for an HTTP/2 request's body. A stream whose client announces a body and then sends
 * nothing never times out on its own: Node's http2 server has no request timeout (HTTP/1.1 has
 * requestTimeout), a session with an open stream is never idle, and a stream the server has
 * already answered stays half-closed, still counted against the connection's stream limit and
 * still holding its buffers, until the client ends it. So every request whose body is one message
 * (unary and server-streaming calls) gets `timeoutMs` from its headers to deliver all of it; a
 * stream still reading then is reset with CANCEL (RFC 9113 §8.1: the server may reset a stream
 * whose request it no longer wants). Calls whose request is a stream by design (client and bidi
 * streaming, such as reflection) are exempt.
 *
 * With the connection's concurrent-stream limit (HTTP2_MAX_CONCURRENT_STREAMS), this bounds what
 * one connection can hold: at most that many stalled streams, each for at most `timeoutMs`.
 */
import http2 from "node:http2";

/** Resets `stream` with CANCEL unless its request body has ended within `timeoutMs`. */
export function armBodyDeadline(stream: http2.Http2Stream, timeoutMs: number): void {
  if (bodyEnded(stream)) return;
  const timer = setTimeout(() => {
    if (!bodyEnded(stream)) stream.close(http2.constants.NGHTTP2_CANCEL);
  }, timeoutMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  stream.once("end", clear);
  stream.once("close", clear);
}

/** The client sent END_STREAM (or the stream is gone). */
function bodyEnded(stream: http2.Http2Stream): boolean {
  return stream.closed || stream.destroyed || stream.readableEnded || stream.state?.remoteClose === 1;
}
