/**
 * The metrics port (METRICS_PORT, default 9464, the port OpenTelemetry's Prometheus exporter
 * uses; "off" turns it off): `GET /metrics` in Prometheus's text format, and nothing else (404;
 * 405 for another method on /metrics). Plain node:http, kept small and bounded: short header and
 * request timeouts, small headers, a cap on connections, no request body read. It binds
 * METRICS_HOST (default 127.0.0.1): metrics say how busy the server is and how its logins fare,
 * which is for operators, not the internet.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.js";

export interface MetricsServerOptions {
  host: string;
  port: number;
  logger: Logger;
  render: () => Promise<{ contentType: string; body: string }>;
}

export interface RunningMetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Enough for a few Prometheus servers and a curl; more waiting connections are refused. */
const MAX_CONNECTIONS = 32;

export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningMetricsServer> {
  const { logger } = options;
  const server = http.createServer(
    { headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 8 * 1024, connectionsCheckingInterval: 1_000 },
    (req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }).end("method not allowed\n");
        return;
      }
      options.render().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
          res.end(req.method === "HEAD" ? undefined : body);
        },
        (error: unknown) => {
          logger.warn("metrics scrape failed", { error });
          if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
          res.end("metrics unavailable\n");
        },
      );
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => logger.error("metrics server error", { error }));
  const port = (server.address() as AddressInfo).port;
  logger.info("listening", { port, scheme: "http", listener: "metrics", path: "/metrics" });

  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scrape is short and can be repeated: nothing to drain.
        server.closeAllConnections();
      })),
  };
}
