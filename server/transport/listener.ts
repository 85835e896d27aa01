/**
 * The public port: Connect, gRPC and gRPC-Web over HTTP/1.1 and HTTP/2 on one socket.
 *
 * - plaintext: a TCP server sniffs each connection (protocol-sniffer.ts) and hands it to an HTTP/1.1
 *   or an h2c server; both run the same connect-node handler.
 * - TLS (config.tls): one http2 secure server, HTTP/1.1 or h2 chosen by ALPN.
 *
 * Every call goes through the logging and error-mapping interceptors (in that order, so the log
 * shows the code the client got), then any interceptors the caller adds.
 */
import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import { createContextValues, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { rpcMetricsObserver } from "../metrics/rpc-metrics-interceptor.js";
import type { RpcPortMetrics } from "../metrics/rpc-metrics.js";
import { ConnectionTracker, type RequestHandler } from "./connection-tracker.js";
import { withCors } from "./cors.js";
import { armBodyDeadline } from "./body-deadline.js";
import { createErrorMappingInterceptor } from "./error-mapping.js";
import { withHostAllowlist } from "./host-allowlist.js";
import { combineObservers, createCallEndInterceptor } from "./call-end-interceptor.js";
import { logCallObserver } from "./logging-interceptor.js";
import { createSniffingServer } from "./protocol-sniffer.js";
import { withSecurityHeaders } from "./security-headers.js";
import { peerAddressKey, trustedProxyHopsKey } from "./request-meta.js";

/** Handles a request for a path that is not an RPC: `(req, res) => void`, for http and http2 alike. */
export type FallbackHandler = RequestHandler;

export interface ListenerTimeouts {
  /** Time for a client to send the request headers (HTTP/1.1), and to show its protocol. */
  headersTimeoutMs: number;
  /** Time for a client to send a whole HTTP/1.1 request, body included. */
  requestTimeoutMs: number;
  /** How long an idle HTTP/1.1 connection is kept open; above a typical load balancer's 60 s. */
  keepAliveTimeoutMs: number;
  /** An HTTP/2 session without streams for this long is closed. */
  http2IdleTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: ListenerTimeouts = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  http2IdleTimeoutMs: 120_000,
};

/** Request headers larger than this are refused, on both HTTP versions. */
const MAX_HEADER_BYTES = 16 * 1024;

export interface PublicServerOptions {
  config: Config;
  logger: Logger;
  routes: (router: ConnectRouter) => void;
  /** Run inside the logging and error-mapping interceptors, in order. */
  interceptors?: Interceptor[];
  /** Answers every path that is not an RPC (the web app); default: 404 "not found". */
  fallback?: FallbackHandler;
  timeouts?: Partial<ListenerTimeouts>;
  /** Where this port's RPC metrics are counted (outermost, so they see the code the client got). */
  rpcMetrics?: RpcPortMetrics;
}

export interface RunningServer {
  /** The bound port (the real one when config.port is 0). */
  port: number;
  /** "http" or "https". */
  scheme: "http" | "https";
  /**
   * Stop accepting connections, send GOAWAY on HTTP/2 sessions, close idle HTTP/1.1 connections,
   * let calls in flight finish within `graceMs`, then destroy what is left. Resolves as soon as
   * the last call finishes. Safe to call twice.
   */
  close(graceMs: number): Promise<void>;
}

export async function startPublicServer(options: PublicServerOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const tracker = new ConnectionTracker();
  // Aborted only when the grace period runs out: handlers still running learn that their client
  // is about to be cut off. A call that finishes in time never sees it.
  const shutdown = new AbortController();
  // connect links every call's signal to this one: one listener per call in flight, by design.
  setMaxListeners(0, shutdown.signal);

  // Paths of the calls whose request is a stream by design: their bodies have no deadline.
  const streamingRequestPaths = new Set<string>();
  // connect-node types its handler with a narrowed response type; the objects are the same.
  const rpcHandler = connectNodeAdapter({
    routes: (router) => {
      options.routes(router);
      for (const h of router.handlers) {
        if (h.method.methodKind === "client_streaming" || h.method.methodKind === "bidi_streaming") streamingRequestPaths.add(h.requestPath);
      }
    },
    interceptors: [
      createCallEndInterceptor(combineObservers(...(options.rpcMetrics ? [rpcMetricsObserver(options.rpcMetrics)] : []), logCallObserver(logger))),
      createErrorMappingInterceptor(logger),
      ...(options.interceptors ?? []),
    ],
    readMaxBytes: config.limits.maxRequestBytes,
    // A Connect call must say `connect-protocol-version: 1` (Connect clients, Connect-Web and
    // `buf curl` do): a plain HTML form or a stray fetch cannot make one. gRPC and gRPC-Web are
    // not affected.
    requireConnectProtocolHeader: true,
    shutdownSignal: shutdown.signal,
    contextValues: (req) =>
      createContextValues()
        .set(peerAddressKey, req.socket?.remoteAddress ?? "unknown")
        .set(trustedProxyHopsKey, config.trustProxyHops),
    fallback: (options.fallback ?? notFound) as NonNullable<ConnectNodeAdapterOptions["fallback"]>,
  }) as unknown as RequestHandler;
  const handler = tracker.wrap(
    withBodyDeadline(
      guard(
        withHostAllowlist(withSecurityHeaders(withCors(closeIfBodyUnread(rpcHandler), { allowedOrigins: config.corsOrigins })), config.publicHosts),
        logger,
      ),
      config.limits.requestBodyTimeoutMs,
      streamingRequestPaths,
    ),
  );

  const http2Options: http2.ServerOptions = {
    maxSessionMemory: 10, // MiB per session, Node's default, stated so it is not lost
    maxHeaderListPairs: 128,
    settings: { maxConcurrentStreams: config.limits.http2MaxConcurrentStreams, maxHeaderListSize: MAX_HEADER_BYTES },
  };
  const onSession = (session: http2.Http2Session) => tracker.addSession(session, timeouts.http2IdleTimeoutMs);

  let listening: net.Server;
  let scheme: "http" | "https";
  if (config.tls) {
    const [cert, key] = await Promise.all([readFile(config.tls.certFile), readFile(config.tls.keyFile)]);
    const server = http2.createSecureServer(
      {
        ...http2Options,
        cert,
        key,
        allowHTTP1: true,
        ALPNProtocols: ["h2", "http/1.1"],
        handshakeTimeout: timeouts.headersTimeoutMs,
        minVersion: "TLSv1.2",
      },
      handler,
    );
    server.on("session", onSession);
    server.on("connection", (socket: net.Socket) => tracker.addSocket(socket));
    server.on("secureConnection", (socket: net.Socket & { alpnProtocol?: string | false }) => {
      tracker.addSocket(socket);
      if (socket.alpnProtocol !== "h2") tracker.addHttp1Socket(socket);
    });
    // With allowHTTP1, Node's HTTP/1.1 code reads its timeouts from these (untyped) properties.
    Object.assign(server, {
      connectionsCheckingInterval: checkingIntervalMs(timeouts),
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    });
    listening = server;
    scheme = "https";
  } else {
    const http1 = http.createServer(
      {
        headersTimeout: timeouts.headersTimeoutMs,
        requestTimeout: timeouts.requestTimeoutMs,
        keepAliveTimeout: timeouts.keepAliveTimeoutMs,
        maxHeaderSize: MAX_HEADER_BYTES,
        // How often Node looks for connections over those timeouts (its default is 30 s).
        connectionsCheckingInterval: checkingIntervalMs(timeouts),
        noDelay: true,
      },
      handler,
    );
    http1.on("connection", (socket: net.Socket) => tracker.addHttp1Socket(socket));
    // Node starts enforcing headersTimeout/requestTimeout when an http server starts listening;
    // this one never listens itself (the sniffer feeds it), so start that bookkeeping by hand.
    http1.emit("listening");
    const h2c = http2.createServer(http2Options, handler);
    h2c.on("session", onSession);
    listening = createSniffingServer({
      http1,
      http2: h2c,
      sniffTimeoutMs: timeouts.headersTimeoutMs,
      onSocket: (socket) => tracker.addSocket(socket, { sniffing: true }),
      onSniffed: (socket) => tracker.sniffed(socket),
    });
    listening.once("close", () => http1.close());
    scheme = "http";
  }

  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      listening.close(); // also stops the http1 server's timeout bookkeeping
      reject(err);
    };
    listening.once("error", fail);
    listening.listen({ port: config.port, host: config.host }, () => {
      listening.off("error", fail);
      resolve();
    });
  });
  listening.on("error", (err) => logger.error("public server error", { error: err }));
  const port = (listening.address() as AddressInfo).port;
  logger.info("listening", { port, scheme, protocols: ["connect", "grpc", "grpc-web"], http: ["1.1", "2"] });

  let closing: Promise<void> | undefined;
  return {
    port,
    scheme,
    close(graceMs: number) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
        logger.info("draining", { inFlight: tracker.inFlight, graceMs });
        await tracker.drain(graceMs, () => {
          logger.warn("grace period over, cutting calls still in flight", { inFlight: tracker.inFlight });
          shutdown.abort();
        });
        await closed;
        logger.info("closed", { port });
      })();
      return closing;
    },
  };
}

function checkingIntervalMs(timeouts: ListenerTimeouts): number {
  return Math.max(50, Math.min(5_000, Math.floor(timeouts.headersTimeoutMs / 2)));
}

function notFound(_req: unknown, res: http.ServerResponse | http2.Http2ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
  res.end("not found\n");
}

/**
 * An HTTP/1.1 answer sent before the request body was read to its end (a body over
 * MAX_REQUEST_BYTES refused at once) is followed by Node closing the connection. Without
 * `Connection: close` the client puts that socket back in its pool and its next call fails with
 * "socket hang up": say so in the answer instead.
 */
function closeIfBodyUnread(handler: RequestHandler): RequestHandler {
  return (req, res) => {
    if (req.httpVersionMajor === 1) {
      const http1 = res as http.ServerResponse;
      const writeHead = http1.writeHead;
      http1.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
        if (!(req as http.IncomingMessage).complete) this.shouldKeepAlive = false;
        return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
      } as typeof http1.writeHead;
    }
    handler(req, res);
  };
}

/**
 * HTTP/2 only: see body-deadline.ts. (HTTP/1.1 requests are bounded by requestTimeout.) The path
 * decides the exemption: a call with a streaming request at that path may send for as long as it likes.
 */
function withBodyDeadline(handler: RequestHandler, timeoutMs: number, streamingRequestPaths: ReadonlySet<string>): RequestHandler {
  return (req, res) => {
    if ("stream" in req) {
      const path = req.url.split("?")[0] ?? "";
      if (!streamingRequestPaths.has(path)) armBodyDeadline(req.stream, timeoutMs);
    }
    handler(req, res);
  };
}

/**
 * connect-node throws synchronously on requests it cannot even frame (an HTTP/1.0 request without
 * a Host header): inside a request listener that would take the process down. Answer 400 instead.
 */
function guard(handler: RequestHandler, logger: Logger): RequestHandler {
  return (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      logger.warn("request rejected", { error: err, path: req.url?.split("?")[0]?.slice(0, 200) });
      if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      res.end("bad request\n");
    }
  };
}
