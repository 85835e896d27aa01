/**
 * The internal port (GRPC_PORT, default 50051; "off" turns it off): plain gRPC served by
 * @grpc/grpc-js, for backends that call SessionService.VerifySession on every request they serve.
 * grpc-js answers several times more calls per core than connect-node's gRPC path (see bench/), and
 * this port is where that matters. It serves:
 *  - SessionService: the same implementation as the public port (service-adapter.ts);
 *  - AdminService, the operator API (admin key required; served on this port only);
 *  - grpc.health.v1.Health: the same HealthState as the public port;
 *  - server reflection v1 and v1alpha, listing what this port serves.
 * AuthService is not served here: logins come from browsers and apps through the public port, and
 * its per-IP attempt limits would see every backend as one client.
 *
 * Plaintext by default (a port for the private network, like a database's), bound to loopback
 * unless GRPC_HOST opens it to one; with TLS_CERT_FILE and TLS_KEY_FILE set it serves TLS with the
 * same certificate as the public port.
 */
import { readFile } from "node:fs/promises";
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Server, ServerCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { AdminService } from "../../gen/cypher/admin/v1/admin_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { RpcPortMetrics } from "../metrics/rpc-metrics.js";
import { createHealthService, type HealthState } from "../transport/health.js";
import {
  ReflectionIndex,
  ServerReflectionV1,
  ServerReflectionV1alpha,
  createReflectionV1Service,
  createReflectionV1alphaService,
} from "../transport/reflection.js";
import { bodyDeadlineInterceptor } from "./body-deadline-interceptor.js";
import { shutdownController } from "./call-context.js";
import { CallSummary } from "./call-summary.js";
import { adaptService } from "./service-adapter.js";
import { grpcServiceDefinition } from "./service-definition.js";

/** What the internal port serves, in reflection's listing. */
export const INTERNAL_SERVICES: readonly DescService[] = [SessionService, AdminService, Health, ServerReflectionV1, ServerReflectionV1alpha];

export interface GrpcServerOptions {
  config: Pick<Config, "grpcPort" | "grpcHost" | "tls" | "trustProxyHops" | "limits">;
  logger: Logger;
  session: ServiceImpl<typeof SessionService>;
  admin: ServiceImpl<typeof AdminService>;
  health: HealthState;
  /** How often successful calls are summarized in the log (call-summary.ts); 60 s by default. */
  summaryIntervalMs?: number;
  /** Where this port's RPC metrics are counted. */
  rpcMetrics?: RpcPortMetrics;
}

export interface RunningGrpcServer {
  /** The bound port (the real one when GRPC_PORT is 0). */
  port: number;
  /**
   * Stops taking calls (GOAWAY), lets calls in flight finish within `graceMs`, then aborts their
   * handlers' signals and cuts what is left. Safe to call twice.
   */
  close(graceMs: number): Promise<void>;
}

/** The grpc-js server options of the internal port (bench/ gives its bare baseline the same). */
export function internalServerOptions(limits: Pick<Config["limits"], "maxRequestBytes" | "http2MaxConcurrentStreams">): ChannelOptions {
  return {
    "grpc.max_receive_message_length": limits.maxRequestBytes,
    "grpc.max_concurrent_streams": limits.http2MaxConcurrentStreams,
    // A backend that vanished without closing its connection (a WatchRevocations stream stays open
    // forever otherwise) is noticed within about a minute and a half.
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
    // Nothing here serves channelz, so what grpc-js would record for it on every call (several
    // closures and timestamps) is never read.
    "grpc.enable_channelz": 0,
  };
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { config, logger } = options;
  if (config.grpcPort === null) throw new TypeError("the internal gRPC port is turned off (GRPC_PORT=off)");
  const shutdown = shutdownController();
  const summary = new CallSummary({ logger, intervalMs: options.summaryIntervalMs, fields: { protocol: "grpc", listener: "internal" } });
  const server = new Server({
    ...internalServerOptions(config.limits),
    interceptors: [
      bodyDeadlineInterceptor(config.limits.requestBodyTimeoutMs, () =>
        logger.warn("grpc-js no longer exposes a call's HTTP/2 stream: request bodies on the internal port have no deadline", { listener: "internal" }),
      ),
    ],
  });
  const add = <S extends DescService>(service: S, impl: ServiceImpl<S>) =>
    server.addService(
      grpcServiceDefinition(service),
      adaptService(service, impl, { logger, shutdownSignal: shutdown.signal, trustedProxyHops: config.trustProxyHops, summary, rpcMetrics: options.rpcMetrics }),
    );
  const reflection = new ReflectionIndex(INTERNAL_SERVICES);
  add(SessionService, options.session);
  add(AdminService, options.admin);
  add(Health, createHealthService(options.health));
  add(ServerReflectionV1, createReflectionV1Service(reflection));
  add(ServerReflectionV1alpha, createReflectionV1alphaService(reflection));

  const credentials = config.tls
    ? ServerCredentials.createSsl(null, [{ cert_chain: await readFile(config.tls.certFile), private_key: await readFile(config.tls.keyFile) }], false)
    : ServerCredentials.createInsecure();
  let port: number;
  try {
    port = await bind(server, config.grpcHost, config.grpcPort, credentials);
  } catch (error) {
    summary.close();
    throw error;
  }
  logger.info("listening", { port, scheme: config.tls ? "https" : "http", protocols: ["grpc"], http: ["2"], listener: "internal" });

  let closing: Promise<void> | undefined;
  return {
    port,
    close(graceMs: number) {
      closing ??= new Promise<void>((resolve) => {
        logger.info("draining", { graceMs, listener: "internal" });
        const timer = setTimeout(() => {
          logger.warn("grace period over, cutting calls still in flight", { listener: "internal" });
          shutdown.abort(new DOMException("the server is shutting down", "AbortError"));
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }).then(() => {
        summary.close();
        logger.info("closed", { port, listener: "internal" });
      });
      return closing;
    },
  };
}

/** Binds `host:port` (GRPC_HOST, loopback by default). */
async function bind(server: Server, host: string, port: number, credentials: ServerCredentials): Promise<number> {
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return new Promise<number>((resolve, reject) => server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
}
