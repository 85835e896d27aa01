/**
 * Assembles a running Cypher: the public port first (health answers NOT_SERVING and RPCs answer
 * Unavailable while storage starts), then storage, keys and the services, then SERVING.
 * `main.ts` runs one per process; tests and benchmarks run theirs in-process on port 0.
 */
import path from "node:path";
import { AccountService } from "../gen/cypher/account/v1/account_pb.js";
import { AuthService } from "../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../gen/cypher/session/v1/session_pb.js";
import { createAccountModule } from "./rpc/account-module.js";
import type { AppContext } from "./app-context.js";
import { createAdminModule } from "./rpc/admin-module.js";
import { createAuthModule } from "./rpc/auth-module.js";
import { type Clock, systemClock } from "./clock.js";
import type { Config } from "./config.js";
import { loadKeyMaterial, type KeySource } from "./keys/load-key-material.js";
import { lateBoundService } from "./late-bound-service.js";
import type { Logger } from "./logger.js";
import { CypherMetrics } from "./metrics/cypher-metrics.js";
import { startMetricsServer } from "./metrics/metrics-server.js";
import { revokeDeviceCredentials } from "./session/device-credential-store.js";
import { createSessionModule } from "./rpc/session-module.js";
import { createKeyValueStore } from "./storage/kv/create-key-value-store.js";
import { migrateToLatest } from "./storage/migrate.js";
import { acquireInstanceGuard, claimEmbeddedDataDir } from "./storage/instance-guard.js";
import { openDatabase } from "./storage/open-database.js";
import { startEnrollmentSweeper } from "./storage/sweep-expired-enrollments.js";
import { startGrpcServer, type RunningGrpcServer } from "./grpc/grpc-server.js";
import { Ed25519ThreadVerifier } from "./tokens/ed25519-thread-verifier.js";
import { createPasetoTokenService } from "./tokens/paseto-token-service.js";
import { HealthState } from "./transport/health.js";
import { hasAnyAccount } from "./storage/user-store.js";
import { startPublicServer } from "./transport/listener.js";
import { registerRoutes } from "./transport/routes.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** What reflection lists: every service the public port serves. */
const reflectedServices = [AuthService, SessionService, AccountService, Health, ServerReflectionV1, ServerReflectionV1Alpha];

export interface CypherServer {
  /** The public port actually bound (useful with PORT=0). */
  port: number;
  /** The internal grpc-js port for backends actually bound (GRPC_PORT=0), or null when turned off. */
  grpcPort: number | null;
  /** The metrics port actually bound (METRICS_PORT=0), or null when turned off. */
  metricsPort: number | null;
  health: HealthState;
  /** Which storage and key source this instance runs on, for the start-up log line. */
  storage: { database: string; kv: string; keys: KeySource };
  /** Stops accepting, drains in-flight calls within the grace period, releases everything. */
  stop(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  logger: Logger;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  /** Handles non-RPC paths (the web app). */
  fallback?: Parameters<typeof startPublicServer>[0]["fallback"];
}

export async function startCypherServer(options: StartOptions): Promise<CypherServer> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const health = new HealthState();
  const auth = lateBoundService(AuthService);
  const session = lateBoundService(SessionService);
  const metrics = config.metricsPort === null ? undefined : new CypherMetrics();
  const account = lateBoundService(AccountService);

  const server = await startPublicServer({
    config,
    logger,
    routes: (router) =>
      registerRoutes(router, { auth: auth.impl, session: session.impl, account: account.impl, health, reflectionServices: reflectedServices }),
    fallback: options.fallback,
    rpcMetrics: metrics?.rpc.public,
  });

  // Everything below is released in reverse order by stop(), or at once if start-up fails.
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const releaseAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn("shutdown step failed", { error });
      }
    }
  };

  try {
    const guard = config.databaseUrl
      ? await acquireInstanceGuard(config.databaseUrl, config.redisUrl || config.redisCluster ? "redis" : "in-process")
      : await claimEmbeddedDataDir(config.dataDir);
    cleanups.push(() => guard.release());
    const metricsServer =
      metrics && config.metricsPort !== null
        ? await startMetricsServer({ host: config.metricsHost, port: config.metricsPort, logger, render: () => metrics.render() })
        : undefined;
    if (metricsServer) cleanups.push(() => metricsServer.close());
    const database = openDatabase(
      config.databaseUrl
        ? { kind: "postgres", url: config.databaseUrl }
        : { kind: "embedded", dataDir: path.join(config.dataDir, "pgdata"), migrateOnCreate: true },
    );
    cleanups.push(() => database.close());
    const [migrated, kv] = await Promise.all([migrateToLatest(database.db), createKeyValueStore(config, logger, clock)]);
    cleanups.push(() => kv.close());
    if (migrated.length > 0) logger.info("migrations applied", { migrations: migrated });
    metrics?.watchStorage({ db: database.db, kv });

    const { keys, source: keySource, file: keyFile } = await loadKeyMaterial({
      env: options.env ?? process.env,
      dataDir: config.dataDir,
      production: config.production,
      hasAccounts: () => hasAnyAccount(database.db),
    });
    if (keySource === "generated") logger.warn("generated new key material; keep it safe", { file: keyFile });

    const ctx: AppContext = { config, clock, logger, db: database.db, kv, keys, metrics };
    const ed25519 = await Ed25519ThreadVerifier.start({ threads: config.verifyThreads, logger });
    cleanups.push(() => ed25519.close());
    const tokens = await createPasetoTokenService(keys, clock, { ed25519 });
    const authModule = await createAuthModule(ctx, tokens);
    cleanups.push(() => authModule.close());
    const sessionModule = await createSessionModule(ctx, tokens);
    cleanups.push(() => sessionModule.close());
    const accountModule = createAccountModule(ctx, {
      tokens,
      opaque: authModule.opaque,
      liveness: sessionModule.liveness,
      secondFactorFailures: sessionModule.secondFactorLockout,
      revokeDeviceCredentials: async (trx, userId) => {
        await revokeDeviceCredentials(trx, { userId, at: clock.now() });
      },
    });
    const stopSweeper = startEnrollmentSweeper({
      db: database.db,
      clock,
      intervalSeconds: config.enrollment.sweepIntervalSeconds,
      logger,
    });
    cleanups.push(() => stopSweeper());

    auth.bind(authModule.service);
    session.bind(sessionModule.service);
    account.bind(accountModule.service);
    // The internal port opens once its services exist: backends never see a call refused as "starting".
    let grpcServer: RunningGrpcServer | undefined;
    if (config.grpcPort !== null) {
      const admin = createAdminModule(ctx, { revocations: sessionModule.liveness });
      grpcServer = await startGrpcServer({ config, logger, session: sessionModule.internalService, admin: admin.service, health, rpcMetrics: metrics?.rpc.internal });
      const started = grpcServer;
      cleanups.push(() => started.close(0));
    }
    health.setServing(true);

    let stopping: Promise<void> | undefined;
    return {
      port: server.port,
      grpcPort: grpcServer?.port ?? null,
      metricsPort: metricsServer?.port ?? null,
      health,
      storage: {
        database: database.kind === "postgres" ? "postgresql" : "embedded (PGlite)",
        kv: config.redisCluster ? "redis cluster" : config.redisUrl ? "redis" : "in-process",
        keys: keySource,
      },
      stop: () =>
        (stopping ??= (async () => {
          // shutdown() (not just NOT_SERVING) also ends Watch streams, so draining is not held up by them.
          health.shutdown();
          // WatchRevocations streams never end on their own; clients resume from their cursor.
          sessionModule.endStreams();
          await Promise.all([server.close(config.limits.shutdownGraceMs), grpcServer?.close(config.limits.shutdownGraceMs)]);
          await releaseAll();
        })()),
    };
  } catch (error) {
    health.shutdown();
    await server.close(0);
    await releaseAll();
    throw error;
  }
}
