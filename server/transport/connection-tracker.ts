/**
 * Knows every connection, HTTP/2 session and in-flight request of the public port, so shutdown can
 * be graceful: stop taking new work, let calls in flight finish within a grace period, let their
 * last bytes reach the client, then cut whatever is left.
 */
import type http from "node:http";
import http2 from "node:http2";
import type net from "node:net";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
/** A request listener for http and http2 servers alike. */
export type RequestHandler = (req: Request, res: Response) => void;

export class ConnectionTracker {
  /** Every accepted socket (raw TCP, and TLS sockets on top of them). */
  readonly #sockets = new Set<net.Socket>();
  /** Plaintext sockets whose protocol is not known yet: they carry no call. */
  readonly #sniffing = new Set<net.Socket>();
  /** HTTP/2 sessions and the number of streams in flight on each. */
  readonly #sessions = new Map<http2.Http2Session, number>();
  /** HTTP/1.1 sockets and the number of requests in flight on each. */
  readonly #http1Sockets = new Map<net.Socket, number>();
  /** HTTP/1.1 responses in flight, to turn keep-alive off when a drain starts. */
  readonly #http1Responses = new Set<http.ServerResponse>();
  #inFlight = 0;
  #draining = false;
  /** Woken whenever a request finishes or a socket closes. */
  #onChange: (() => void) | undefined;

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  addSocket(socket: net.Socket, options: { sniffing?: boolean } = {}): void {
    if (this.#draining) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    if (options.sniffing) this.#sniffing.add(socket);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.#sniffing.delete(socket);
      this.#onChange?.();
    });
  }

  /** The sniffer has handed `socket` to the HTTP/1.1 or HTTP/2 server. */
  sniffed(socket: net.Socket): void {
    this.#sniffing.delete(socket);
  }

  /** A socket handed to the HTTP/1.1 server. */
  addHttp1Socket(socket: net.Socket): void {
    this.#http1Sockets.set(socket, 0);
    socket.once("close", () => this.#http1Sockets.delete(socket));
  }

  /** An HTTP/2 session: told to go away on drain; closed when idle for `idleTimeoutMs`. */
  addSession(session: http2.Http2Session, idleTimeoutMs: number): void {
    if (this.#draining) {
      session.close();
      return;
    }
    this.#sessions.set(session, 0);
    session.once("close", () => this.#sessions.delete(session));
    // Frames of any stream count as activity; a session is only reaped when it has no stream.
    session.setTimeout(idleTimeoutMs, () => {
      if ((this.#sessions.get(session) ?? 0) === 0) session.close();
    });
  }

  /** Wraps a request handler so that every request is counted until its response closes. */
  wrap(handler: RequestHandler): RequestHandler {
    return (req, res) => {
      this.#inFlight++;
      const session = "stream" in req ? req.stream.session : undefined;
      const socket = session ? undefined : (req as http.IncomingMessage).socket;
      if (session) this.#sessions.set(session, (this.#sessions.get(session) ?? 0) + 1);
      if (socket && this.#http1Sockets.has(socket)) this.#http1Sockets.set(socket, this.#http1Sockets.get(socket)! + 1);
      const http1Response = "shouldKeepAlive" in res ? (res as http.ServerResponse) : undefined;
      if (http1Response) this.#http1Responses.add(http1Response);
      // A request that arrives on a kept-alive HTTP/1.1 connection during a drain is still served,
      // but its connection is closed afterwards.
      if (this.#draining && http1Response) refuseKeepAlive(http1Response);
      this.#stopUploadAfterAnswer(req, res, socket);
      res.once("close", () => {
        this.#inFlight--;
        if (http1Response) this.#http1Responses.delete(http1Response);
        if (session && this.#sessions.has(session)) this.#sessions.set(session, this.#sessions.get(session)! - 1);
        if (socket && this.#http1Sockets.has(socket)) {
          const left = this.#http1Sockets.get(socket)! - 1;
          this.#http1Sockets.set(socket, left);
          if (this.#draining && left === 0) socket.destroySoon(); // after the response is flushed
        }
        this.#onChange?.();
      });
      handler(req, res);
    };
  }

  /**
   * Stop reuse of every connection, wait up to `graceMs` for requests in flight and for their
   * connections to wind down, then destroy every socket still open. The caller stops the listening
   * server first. `onGraceExpired` runs if calls were still in flight when time ran out.
   */
  async drain(graceMs: number, onGraceExpired?: () => void): Promise<void> {
    this.#draining = true;
    const deadlineMs = Date.now() + graceMs;
    for (const socket of this.#sniffing) socket.destroy();
    for (const session of this.#sessions.keys()) session.close(); // GOAWAY: no new streams
    for (const [socket, busy] of this.#http1Sockets) {
      if (busy === 0) socket.destroy(); // idle keep-alive connection
    }
    for (const res of this.#http1Responses) refuseKeepAlive(res);

    if (!(await this.#until(() => this.#inFlight === 0, deadlineMs))) {
      onGraceExpired?.();
    } else {
      // Every call is answered; HTTP/2 sessions close themselves once their GOAWAY is through and
      // HTTP/1.1 sockets once their last response is flushed. Cutting them now could lose the
      // final bytes (gRPC trailers are sent a tick after the stream ends).
      await this.#until(() => this.#sockets.size === 0, deadlineMs);
    }
    for (const session of this.#sessions.keys()) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Waits until `done()` holds (true) or the deadline passes (false). */
  async #until(done: () => boolean, deadlineMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        const check = () => {
          if (done()) resolve(true);
        };
        this.#onChange = check;
        timer = setTimeout(() => resolve(done()), Math.max(0, deadlineMs - Date.now()));
        check();
      });
    } finally {
      clearTimeout(timer);
      this.#onChange = undefined;
    }
  }

  /**
   * An early answer (a message over readMaxBytes, an error) can leave the client still sending a
   * body nobody will read. HTTP/2: reset the stream with NO_ERROR once the answer is out, as RFC
   * 9113 §8.1 suggests; otherwise it would stay open, flow-control-blocked, forever. HTTP/1.1:
   * end the connection after the answer.
   */
  #stopUploadAfterAnswer(req: Request, res: Response, socket: net.Socket | undefined): void {
    if ("stream" in req) {
      const stream = req.stream;
      // Node's compat response always asks for trailers after the last DATA frame, and submits
      // them from a setImmediate callback: queue the reset behind them (gRPC's status is there).
      stream.once("wantTrailers", () =>
        setImmediate(() => {
          if (req.complete || stream.closed) return;
          stream.close(http2.constants.NGHTTP2_NO_ERROR);
          // Unread request data would otherwise keep the stream, and this call's slot, alive.
          stream.destroy();
        }),
      );
    } else {
      res.once("finish", () => {
        if (!req.complete) socket?.end();
      });
    }
  }
}

function refuseKeepAlive(res: http.ServerResponse): void {
  if (!res.headersSent) res.shouldKeepAlive = false;
}
