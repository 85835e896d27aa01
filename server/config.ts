/**
 * Configuration from the environment, validated once at start-up. Every problem is reported (one
 * line each) before the process exits, so an operator fixes them all in one go.
 *
 * Key material is not parsed here: see `keys/key-material.ts`.
 */
import { availableParallelism } from "node:os";
import path from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Config {
  production: boolean;
  /** Public port: Connect, gRPC, gRPC-Web, the web app. 0 picks a free port (tests). */
  port: number;
  /** Interface to bind; undefined binds all. */
  host: string | undefined;
  /** Internal grpc-js port for backends; null turns it off. */
  grpcPort: number | null;
  /** Prometheus `GET /metrics` port (server/metrics/); null turns metrics off. */
  metricsPort: number | null;
  /** Interface the metrics port binds. */
  metricsHost: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  dataDir: string;
  logLevel: LogLevel;
  tls: { certFile: string; keyFile: string } | undefined;
  /** OPAQUE server identity, identical at registration and login. */
  serverIdentity: string;
  totpIssuer: string;
  /** Trust the first X-Forwarded-For hop as the client IP (only behind a proxy you control). */
  trustProxy: boolean;
  /** Origins allowed to call from a browser besides the server's own. */
  corsOrigins: string[];
  limits: {
    maxRequestBytes: number;
    shutdownGraceMs: number;
  };
  opaque: {
    workerThreads: number;
    /** Calls allowed to wait for a worker; beyond this the call gets ResourceExhausted. */
    maxQueuedCalls: number;
  };
  /** Threads checking token signatures (ed25519-thread-verifier.ts). */
  verifyThreads: number;
  enrollment: {
    ttlSeconds: number;
    maxFailedCodes: number;
    sweepIntervalSeconds: number;
  };
  tokens: {
    loginTtlSeconds: number;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    sessionMaxLifetimeSeconds: number;
    refreshReuseGraceSeconds: number;
    /** Wrong second-factor codes that burn a login token. */
    maxSecondFactorFailures: number;
  };
  rateLimits: {
    /** LoginInit calls without a successful finish, per username, before lockout (NIST 800-63B: at most 100). */
    loginFailuresPerUsername: number;
    loginFailureWindowSeconds: number;
    loginAttemptsPerIp: number;
    loginIpWindowSeconds: number;
    registrationsPerIp: number;
    registrationIpWindowSeconds: number;
    /** LoginInits per username that go through at once; after these each one waits an increasing delay. */
    loginBackoffFreeFailures: number;
    /** First backoff delay; doubles per further attempt. 0 turns backoff off. */
    loginBackoffBaseMs: number;
    /** Longest backoff delay. */
    loginBackoffMaxMs: number;
  };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.problems.push(`${name}=${JSON.stringify(raw)} must be true or false`);
    return fallback;
  }

  url(name: string, protocols: string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(" or ")} (got ${u.protocol})`);
      }
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return raw;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const r = new Reader(env);
  const production = env.NODE_ENV === "production";

  const logLevel = (r.string("LOG_LEVEL") ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    r.problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} must be debug, info, warn or error`);
  }

  const certFile = r.string("TLS_CERT_FILE");
  const keyFile = r.string("TLS_KEY_FILE");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    r.problems.push("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }

  const grpcPortRaw = r.string("GRPC_PORT");
  const grpcPort = grpcPortRaw !== undefined && /^(off|false|none|disabled)$/i.test(grpcPortRaw)
    ? null
    : r.int("GRPC_PORT", 50051, 0, 65535);

  const metricsPortRaw = r.string("METRICS_PORT");
  const metricsPort = metricsPortRaw !== undefined && /^(off|false|none|disabled)$/i.test(metricsPortRaw)
    ? null
    : r.int("METRICS_PORT", 9464, 0, 65535);

  const corsOrigins = (r.string("CORS_ORIGINS") ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const origin of corsOrigins) {
    try {
      const u = new URL(origin);
      if (u.origin !== origin) r.problems.push(`CORS_ORIGINS entry ${JSON.stringify(origin)} must be a bare origin like https://app.example.com`);
    } catch {
      r.problems.push(`CORS_ORIGINS entry ${JSON.stringify(origin)} is not a valid origin`);
    }
  }

  const config: Config = {
    production,
    port: r.int("PORT", 8080, 0, 65535),
    host: r.string("HOST"),
    grpcPort,
    metricsPort,
    // Loopback unless told otherwise: metrics are for operators on the host or its private network.
    metricsHost: r.string("METRICS_HOST") ?? "127.0.0.1",
    databaseUrl: r.url("DATABASE_URL", ["postgres:", "postgresql:"]),
    redisUrl: r.url("REDIS_URL", ["redis:", "rediss:"]),
    dataDir: path.resolve(r.string("DATA_DIR") ?? "./.data"),
    logLevel: logLevel as LogLevel,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    serverIdentity: r.string("SERVER_IDENTITY") ?? "localhost",
    totpIssuer: r.string("TOTP_ISSUER") ?? "Cypher",
    trustProxy: r.bool("TRUST_PROXY", false),
    corsOrigins,
    limits: {
      maxRequestBytes: r.int("MAX_REQUEST_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
      shutdownGraceMs: r.int("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    },
    opaque: {
      workerThreads: r.int("OPAQUE_WORKER_THREADS", Math.max(1, Math.min(4, availableParallelism())), 1, 64),
      maxQueuedCalls: r.int("OPAQUE_MAX_QUEUED_CALLS", 16, 1, 100_000),
    },
    // One per core beyond the event loop's, at most 4: the loop needs a core of its own.
    verifyThreads: r.int("VERIFY_THREADS", Math.max(1, Math.min(4, availableParallelism() - 1)), 1, 64),
    enrollment: {
      ttlSeconds: r.int("ENROLLMENT_TTL_SECONDS", 300, 30, 86_400),
      maxFailedCodes: r.int("ENROLLMENT_MAX_FAILED_CODES", 5, 1, 100),
      sweepIntervalSeconds: r.int("ENROLLMENT_SWEEP_INTERVAL_SECONDS", 60, 1, 86_400),
    },
    tokens: {
      loginTtlSeconds: r.int("LOGIN_TOKEN_TTL_SECONDS", 180, 10, 3600),
      accessTtlSeconds: r.int("ACCESS_TOKEN_TTL_SECONDS", 900, 10, 86_400),
      refreshTtlSeconds: r.int("REFRESH_TOKEN_TTL_SECONDS", 7 * 86_400, 60, 365 * 86_400),
      sessionMaxLifetimeSeconds: r.int("SESSION_MAX_LIFETIME_SECONDS", 30 * 86_400, 60, 365 * 86_400),
      refreshReuseGraceSeconds: r.int("REFRESH_REUSE_GRACE_SECONDS", 10, 0, 300),
      maxSecondFactorFailures: r.int("SECOND_FACTOR_MAX_FAILURES", 5, 1, 100),
    },
    rateLimits: {
      loginFailuresPerUsername: r.int("LOGIN_MAX_FAILURES_PER_USERNAME", 10, 1, 100),
      loginFailureWindowSeconds: r.int("LOGIN_FAILURE_WINDOW_SECONDS", 900, 1, 86_400),
      loginAttemptsPerIp: r.int("LOGIN_MAX_ATTEMPTS_PER_IP", 100, 1, 1_000_000),
      loginIpWindowSeconds: r.int("LOGIN_IP_WINDOW_SECONDS", 900, 1, 86_400),
      registrationsPerIp: r.int("REGISTER_MAX_PER_IP", 20, 1, 1_000_000),
      registrationIpWindowSeconds: r.int("REGISTER_IP_WINDOW_SECONDS", 3600, 1, 86_400),
      loginBackoffFreeFailures: r.int("LOGIN_BACKOFF_FREE_FAILURES", 5, 1, 100),
      loginBackoffBaseMs: r.int("LOGIN_BACKOFF_BASE_MS", 1000, 0, 600_000),
      loginBackoffMaxMs: r.int("LOGIN_BACKOFF_MAX_MS", 60_000, 0, 3_600_000),
    },
  };

  if (config.tokens.accessTtlSeconds > config.tokens.sessionMaxLifetimeSeconds) {
    r.problems.push("ACCESS_TOKEN_TTL_SECONDS must not exceed SESSION_MAX_LIFETIME_SECONDS");
  }
  if (config.grpcPort !== null && config.grpcPort !== 0 && config.grpcPort === config.port) {
    r.problems.push("GRPC_PORT must differ from PORT");
  }
  if (config.metricsPort !== null && config.metricsPort !== 0 && (config.metricsPort === config.port || config.metricsPort === config.grpcPort)) {
    r.problems.push("METRICS_PORT must differ from PORT and GRPC_PORT");
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
