/**
 * Configuration from the environment, validated once at start-up. Every problem is reported (one
 * line each) before the process exits, so an operator fixes them all in one go.
 *
 * Key material is not parsed here: see `keys/key-material.ts`.
 */
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import path from "node:path";
import { readAdminKeys, type AdminKey } from "./admin/admin-keys.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Config {
  production: boolean;
  /** Public port: Connect, gRPC, gRPC-Web, the web app. 0 picks a free port (tests). */
  port: number;
  /** Interface to bind; undefined binds all. */
  host: string | undefined;
  /** Internal grpc-js port for backends; null turns it off. */
  grpcPort: number | null;
  /** Interface the internal port binds: loopback unless the operator opens it to a private network. */
  grpcHost: string;
  /**
   * Host names (lower case, no port; IPv6 literals in brackets) the public port answers to; any
   * other Host / :authority is refused with 421 (DNS rebinding). Empty: no check.
   */
  publicHosts: string[];
  /** Prometheus `GET /metrics` port (server/metrics/); null turns metrics off. */
  metricsPort: number | null;
  /** Interface the metrics port binds. */
  metricsHost: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Redis Cluster instead of one Redis (REDIS_CLUSTER_*); exclusive with redisUrl. */
  redisCluster: RedisClusterConfig | undefined;
  dataDir: string;
  logLevel: LogLevel;
  tls: { certFile: string; keyFile: string } | undefined;
  /** OPAQUE server identity, identical at registration and login. */
  serverIdentity: string;
  totpIssuer: string;
  /**
   * Proxies in front of this server that append to X-Forwarded-For: the client is the
   * `trustProxyHops`-th address from the end. 0 ignores the header.
   */
  trustProxyHops: number;
  /** Origins allowed to call from a browser besides the server's own. */
  corsOrigins: string[];
  limits: {
    maxRequestBytes: number;
    shutdownGraceMs: number;
    /** Time an HTTP/2 unary request has, from its headers, to deliver its whole body. */
    requestBodyTimeoutMs: number;
    /** Streams an HTTP/2 client may have open at once on one connection (both ports). */
    http2MaxConcurrentStreams: number;
  };
  watchRevocations: {
    /** Open WatchRevocations streams per account on the public port. */
    maxStreamsPerAccount: number;
    /** Open WatchRevocations streams per client address (IPv6: per /64) on the public port. */
    maxStreamsPerIp: number;
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
    /** How long a device credential (CreateSessionResponse.device_token) stays valid. */
    deviceTokenTtlSeconds: number;
  };
  /**
   * The operator API's keys (ADMIN_API_KEYS or ADMIN_API_KEYS_FILE), as SHA-256 digests only; empty:
   * every AdminService call is refused.
   */
  adminKeys: readonly AdminKey[];
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
    /** Wrong second factors per account (any login token, any instance) before every attempt is refused. */
    secondFactorFailuresPerAccount: number;
    /** The fixed window those failures are counted in; the lockout lasts until it ends. */
    secondFactorFailureWindowSeconds: number;
  };
}

export interface RedisClusterConfig {
  /** Seed nodes; the client learns the rest of the cluster from them. */
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

/** Every REDIS_ variable Cypher reads: any other is a misspelling and stops the start. */
const KNOWN_REDIS_VARIABLES = ["REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_CLUSTER_USERNAME", "REDIS_CLUSTER_PASSWORD", "REDIS_CLUSTER_TLS"];

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

  /** A hop count: true/yes/on mean 1 (the meaning of a boolean TRUST_PROXY), false/no/off mean 0. */
  hops(name: string, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return 0;
    if (/^(true|yes|on)$/i.test(raw)) return 1;
    if (/^(false|no|off)$/i.test(raw)) return 0;
    if (/^\d+$/.test(raw) && Number(raw) <= max) return Number(raw);
    this.problems.push(`${name}=${JSON.stringify(raw)} must be the number of proxies in front of this server (0 to ${max}), true (1) or false (0)`);
    return 0;
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

  const publicHosts = (r.string("PUBLIC_HOSTS") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase().replace(/\.$/, ""))
    .filter((h) => h !== "");
  for (const host of publicHosts) {
    if (!isHostName(host)) {
      r.problems.push(`PUBLIC_HOSTS entry ${JSON.stringify(host)} must be a host name or IP address without a port or scheme (IPv6 in brackets: [2001:db8::1])`);
    }
  }

  const grpcHost = r.string("GRPC_HOST") ?? "127.0.0.1";
  if (!isHostName(grpcHost) && isIP(grpcHost) === 0) {
    r.problems.push(`GRPC_HOST=${JSON.stringify(grpcHost)} must be an IP address or a host name`);
  }
  const admin = readAdminKeys(env);
  r.problems.push(...admin.problems);

  const databaseUrl = r.url("DATABASE_URL", ["postgres:", "postgresql:"]);
  const config: Config = {
    production,
    port: r.int("PORT", 8080, 0, 65535),
    host: r.string("HOST"),
    grpcPort,
    grpcHost,
    publicHosts,
    metricsPort,
    // Loopback unless told otherwise: metrics are for operators on the host or its private network.
    metricsHost: r.string("METRICS_HOST") ?? "127.0.0.1",
    databaseUrl,
    redisUrl: r.url("REDIS_URL", ["redis:", "rediss:"]),
    redisCluster: readRedisCluster(r, env),
    dataDir: path.resolve(r.string("DATA_DIR") ?? "./.data"),
    logLevel: logLevel as LogLevel,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    serverIdentity: r.string("SERVER_IDENTITY") ?? "localhost",
    totpIssuer: r.string("TOTP_ISSUER") ?? "Cypher",
    trustProxyHops: r.hops("TRUST_PROXY", 10),
    corsOrigins,
    limits: {
      maxRequestBytes: r.int("MAX_REQUEST_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
      shutdownGraceMs: r.int("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
      requestBodyTimeoutMs: r.int("REQUEST_BODY_TIMEOUT_MS", 10_000, 100, 600_000),
      http2MaxConcurrentStreams: r.int("HTTP2_MAX_CONCURRENT_STREAMS", 100, 1, 10_000),
    },
    watchRevocations: {
      maxStreamsPerAccount: r.int("WATCH_REVOCATIONS_MAX_PER_ACCOUNT", 8, 1, 10_000),
      maxStreamsPerIp: r.int("WATCH_REVOCATIONS_MAX_PER_IP", 32, 1, 1_000_000),
    },
    opaque: {
      // Embedded storage means one small instance (a laptop): one thread serves hundreds of
      // LoginInits a second and each further thread costs a V8 isolate's memory (bench/startup-time.sh).
      workerThreads: r.int("OPAQUE_WORKER_THREADS", databaseUrl === undefined ? 1 : Math.max(1, Math.min(4, availableParallelism())), 1, 64),
      // A LoginInit is about 2 ms of CPU (bench/LOGIN-COST.md): 64 queued calls wait at most about
      // 64 × 2 ms ÷ threads (~65 ms on two threads, ~130 ms on one) before the queue answers
      // ResourceExhausted.
      maxQueuedCalls: r.int("OPAQUE_MAX_QUEUED_CALLS", 64, 1, 100_000),
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
      deviceTokenTtlSeconds: r.int("DEVICE_TOKEN_TTL_SECONDS", 180 * 86_400, 3600, 3 * 365 * 86_400),
    },
    adminKeys: admin.keys,
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
      secondFactorFailuresPerAccount: r.int("SECOND_FACTOR_MAX_FAILURES_PER_ACCOUNT", 10, 1, 100),
      secondFactorFailureWindowSeconds: r.int("SECOND_FACTOR_FAILURE_WINDOW_SECONDS", 900, 1, 86_400),
    },
  };

  if (config.tokens.accessTtlSeconds > config.tokens.sessionMaxLifetimeSeconds) {
    r.problems.push("ACCESS_TOKEN_TTL_SECONDS must not exceed SESSION_MAX_LIFETIME_SECONDS");
  }
  if (config.grpcPort !== null && config.grpcPort !== 0 && config.grpcPort === config.port) {
    r.problems.push("GRPC_PORT must differ from PORT");
  }
  if (config.redisUrl !== undefined && config.redisCluster !== undefined) {
    r.problems.push("REDIS_URL and REDIS_CLUSTER_NODES are exclusive: set one (a single Redis) or the other (Redis Cluster)");
  }
  if (config.metricsPort !== null && config.metricsPort !== 0 && (config.metricsPort === config.port || config.metricsPort === config.grpcPort)) {
    r.problems.push("METRICS_PORT must differ from PORT and GRPC_PORT");
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** A DNS name, an IPv4 address, or an IPv6 address in brackets: what a Host header names. */
function isHostName(host: string): boolean {
  if (host.startsWith("[") && host.endsWith("]")) return isIP(host.slice(1, -1)) === 6;
  return /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/i.test(host);
}

/**
 * REDIS_CLUSTER_NODES=host:port,host:port,… (seed nodes) with optional REDIS_CLUSTER_USERNAME,
 * REDIS_CLUSTER_PASSWORD and REDIS_CLUSTER_TLS, which apply to every node. Also reports REDIS_
 * variables nobody reads: a misspelt one would otherwise leave the server silently on its defaults.
 */
function readRedisCluster(r: Reader, env: Env): RedisClusterConfig | undefined {
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith("REDIS_") && !KNOWN_REDIS_VARIABLES.includes(name)) {
      r.problems.push(`${name} is not a setting Cypher knows (Redis settings: ${KNOWN_REDIS_VARIABLES.join(", ")})`);
    }
  }
  const list = r.string("REDIS_CLUSTER_NODES");
  const username = r.string("REDIS_CLUSTER_USERNAME");
  const password = r.string("REDIS_CLUSTER_PASSWORD");
  const tls = r.bool("REDIS_CLUSTER_TLS", false);
  if (list === undefined) {
    for (const name of ["REDIS_CLUSTER_USERNAME", "REDIS_CLUSTER_PASSWORD", "REDIS_CLUSTER_TLS"]) {
      if (r.string(name) !== undefined) r.problems.push(`${name} needs REDIS_CLUSTER_NODES`);
    }
    return undefined;
  }
  const nodes: RedisClusterConfig["nodes"] = [];
  for (const entry of list.split(",").map((e) => e.trim())) {
    // host:port, with IPv6 hosts in brackets ([::1]:7000).
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/@\[\]]+):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      r.problems.push(`REDIS_CLUSTER_NODES entry ${JSON.stringify(entry)} must be host:port (credentials go in REDIS_CLUSTER_USERNAME / REDIS_CLUSTER_PASSWORD)`);
      continue;
    }
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ""), port });
  }
  return { nodes, username, password, tls };
}
