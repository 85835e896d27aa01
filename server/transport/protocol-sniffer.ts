/**
 * One plaintext port for HTTP/1.1 and h2c. Node's plaintext http2 server cannot take HTTP/1.1
 * (browsers never speak h2c, gRPC clients always do), so a plain TCP server reads the first bytes
 * of each connection: the HTTP/2 connection preface sends it to the http2 server, anything else
 * to the http server. The bytes read are pushed back onto the socket before it is handed over.
 */
import net from "node:net";
import type http from "node:http";
import type http2 from "node:http2";

/** RFC 9113 §3.4: every prior-knowledge HTTP/2 connection starts with exactly these 24 bytes. */
export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface SniffingServerOptions {
  http1: http.Server;
  http2: http2.Http2Server;
  /** A connection that has not sent enough bytes to be told apart after this long is dropped. */
  sniffTimeoutMs: number;
  /** Called for every accepted socket, before sniffing (for connection tracking). */
  onSocket?: (socket: net.Socket) => void;
  /** Called when a socket is handed to one of the servers. */
  onSniffed?: (socket: net.Socket) => void;
}

export function createSniffingServer(options: SniffingServerOptions): net.Server {
  return net.createServer({ noDelay: true }, (socket) => {
    options.onSocket?.(socket);
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), options.sniffTimeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", done);
    };
    const onError = () => {
      done();
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const compared = Math.min(received.length, HTTP2_PREFACE.length);
      const looksLikeHttp2 = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      if (looksLikeHttp2 && received.length < HTTP2_PREFACE.length) return; // a prefix so far: wait
      done();
      options.onSniffed?.(socket);
      socket.pause();
      socket.unshift(received);
      if (looksLikeHttp2) {
        // The http2 session reads what is already buffered on the socket itself, then takes over
        // the handle; resuming the JS stream here would steal bytes from it.
        options.http2.emit("connection", socket);
      } else {
        options.http1.emit("connection", socket);
        // The http server's parser only sees the pushed-back bytes once the stream flows again.
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", done);
  });
}
