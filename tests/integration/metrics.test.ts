/**
 * /metrics on its own port, scraped after real calls over both real ports of a running Cypher
 * (startCypherServer, embedded storage): the go-grpc-prometheus families move by exactly the calls
 * made, per port, method and code (streams counted when they end); the cypher_* families count
 * logins, registrations, refresh reuse, revocations, the verified-token cache and the OPAQUE pool,
 * and report storage up; `promtool check metrics` finds nothing wrong in Cypher's own families;
 * the port answers GET /metrics and nothing else, and closes with the server.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { logIn, registerAccount, type Clients } from "../../bench/login-flow.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { silentLogger } from "../../server/logger.js";

const PROMTOOL = "/usr/bin/promtool";
const VERIFY = { grpc_service: "cypher.session.v1.SessionService", grpc_method: "VerifySession", grpc_type: "unary" };

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe("metrics over the real ports", () => {
  let dir: string;
  let server: CypherServer;
  let clients: Clients;
  let internal: Client<typeof SessionService>;
  let metricsPort: number;
  let accounts = 0;

  /** A new account, logged in: one login per account, as a TOTP step is accepted once. */
  const newSession = async () => {
    const account = await registerAccount(clients, `metrics-${process.pid}-${++accounts}`, "correct horse battery staple");
    return logIn(clients, account);
  };

  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-metrics-"));
    const env = {
      PORT: "0",
      GRPC_PORT: "0",
      METRICS_PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dir,
      OPAQUE_WORKER_THREADS: "1",
      // A refresh token presented twice is reuse at once (no grace period).
      REFRESH_REUSE_GRACE_SECONDS: "0",
    };
    server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env: {} });
    metricsPort = server.metricsPort!;
    const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" });
    clients = { auth: createClient(AuthService, transport), session: createClient(SessionService, transport) };
    internal = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.grpcPort}` }));
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("binds the loopback interface by default, and METRICS_PORT=off turns it off", () => {
    expect(loadConfig({}).metricsHost).toBe("127.0.0.1");
    expect(loadConfig({}).metricsPort).toBe(9464);
    expect(loadConfig({ METRICS_PORT: "off" }).metricsPort).toBeNull();
    expect(() => loadConfig({ METRICS_PORT: "8080" })).toThrow(/METRICS_PORT must differ/);
  });

  it("counts the internal port's VerifySession calls by code, exactly, with their latency", async () => {
    const session = await newSession();
    const before = await scrape();
    const ok = { port: "internal", ...VERIFY, grpc_code: "OK" };
    const okBefore = sample(before, "grpc_server_handled_total", ok) ?? 0;
    const startedBefore = sample(before, "grpc_server_started_total", { port: "internal", ...VERIFY }) ?? 0;
    const refusedBefore = sample(before, "grpc_server_handled_total", { port: "internal", ...VERIFY, grpc_code: "Unauthenticated" }) ?? 0;
    const countBefore = sample(before, "grpc_server_handling_seconds_count", { port: "internal", ...VERIFY }) ?? 0;
    const hitsBefore = sample(before, "cypher_verified_token_cache_hits_total")!;

    for (let i = 0; i < 5; i++) await internal.verifySession({ accessToken: session.accessToken });
    await expect(internal.verifySession({ accessToken: "v4.public.not-a-token" })).rejects.toMatchObject({ code: Code.Unauthenticated });

    const after = await scrape();
    expect(sample(after, "grpc_server_started_total", { port: "internal", ...VERIFY })).toBe(startedBefore + 6);
    expect(sample(after, "grpc_server_handled_total", ok)).toBe(okBefore + 5);
    expect(sample(after, "grpc_server_handled_total", { port: "internal", ...VERIFY, grpc_code: "Unauthenticated" })).toBe(refusedBefore + 1);
    expect(sample(after, "grpc_server_handling_seconds_count", { port: "internal", ...VERIFY })).toBe(countBefore + 6);
    expect(sample(after, "grpc_server_handling_seconds_bucket", { port: "internal", ...VERIFY, le: "+Inf" })).toBe(countBefore + 6);
    expect(sample(after, "grpc_server_handling_seconds_sum", { port: "internal", ...VERIFY })).toBeGreaterThan(0);
    // The same token presented again is found in the verified-token cache.
    expect(sample(after, "cypher_verified_token_cache_hits_total")).toBeGreaterThanOrEqual(hitsBefore + 4);
    expect(sample(after, "cypher_verified_token_cache_misses_total")).toBeGreaterThan(0);
  });

  it("counts the public port's calls under port=public, over Connect and gRPC alike", async () => {
    const before = await scrape();
    const login = { port: "public", grpc_service: "cypher.auth.v1.AuthService", grpc_method: "LoginInit", grpc_type: "unary" };
    const loginOk = sample(before, "grpc_server_handled_total", { ...login, grpc_code: "OK" }) ?? 0;
    const badArgument = sample(before, "grpc_server_handled_total", { ...login, grpc_code: "InvalidArgument" }) ?? 0;
    const starts = sample(before, "cypher_login_starts_total")!;
    const succeeded = sample(before, "cypher_logins_total", { outcome: "succeeded" })!;
    const registered = sample(before, "cypher_registrations_total", { outcome: "started" })!;
    const enrolled = sample(before, "cypher_registrations_total", { outcome: "completed" })!;

    const account = await registerAccount(clients, `metrics-${process.pid}-${++accounts}`, "correct horse battery staple");
    const session = await logIn(clients, account);
    await expect(clients.auth.loginInit({ username: "x", ke1: new Uint8Array(1) })).rejects.toMatchObject({ code: Code.InvalidArgument });
    const grpcPublic = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
    await grpcPublic.verifySession({ accessToken: session.accessToken });

    const after = await scrape();
    expect(sample(after, "grpc_server_handled_total", { ...login, grpc_code: "OK" })).toBe(loginOk + 1);
    expect(sample(after, "grpc_server_handled_total", { ...login, grpc_code: "InvalidArgument" })).toBe(badArgument + 1);
    expect(sample(after, "grpc_server_handled_total", { port: "public", ...VERIFY, grpc_code: "OK" })).toBeGreaterThanOrEqual(1);
    expect(sample(after, "cypher_login_starts_total")).toBe(starts + 1);
    expect(sample(after, "cypher_logins_total", { outcome: "succeeded" })).toBe(succeeded + 1);
    expect(sample(after, "cypher_registrations_total", { outcome: "started" })).toBe(registered + 1);
    expect(sample(after, "cypher_registrations_total", { outcome: "completed" })).toBe(enrolled + 1);
    expect(sample(after, "cypher_opaque_worker_threads")).toBe(1);
    expect(sample(after, "cypher_opaque_worker_busy_seconds_total")).toBeGreaterThan(0);
  });

  it("counts a public-port stream when it ends, with the code the client got", async () => {
    const watch = { port: "public", grpc_service: "grpc.health.v1.Health", grpc_method: "Watch", grpc_type: "server_stream" };
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
    const abort = new AbortController();
    const stream = health.watch({ service: "" }, { signal: abort.signal });
    await stream[Symbol.asyncIterator]().next(); // the first status: the stream is open
    const open = await scrape();
    expect(sample(open, "grpc_server_started_total", watch)).toBe(1);
    expect(sample(open, "grpc_server_handled_total", { ...watch, grpc_code: "Canceled" })).toBeUndefined();
    abort.abort();
    await vi.waitFor(async () => expect(sample(await scrape(), "grpc_server_handled_total", { ...watch, grpc_code: "Canceled" })).toBe(1));
  });

  it("counts refresh reuse, published revocations and open WatchRevocations streams", async () => {
    const session = await newSession();
    const before = await scrape();
    const reuse = sample(before, "cypher_refresh_reuse_detections_total")!;
    const published = sample(before, "cypher_revocations_published_total")!;

    const abort = new AbortController();
    let caughtUp = false;
    const following = (async () => {
      try {
        for await (const r of internal.watchRevocations({}, { signal: abort.signal })) caughtUp ||= r.caughtUp;
      } catch {
        // aborted below
      }
    })();
    await vi.waitFor(() => expect(caughtUp).toBe(true));
    expect(sample(await scrape(), "cypher_revocation_watch_streams")).toBe(1);

    await clients.session.refreshSession({ refreshToken: session.refreshToken });
    const reused = await clients.session.refreshSession({ refreshToken: session.refreshToken }).catch((e: unknown) => ConnectError.from(e));
    expect(reused).toMatchObject({ code: Code.Unauthenticated });

    const after = await scrape();
    expect(sample(after, "cypher_refresh_reuse_detections_total")).toBe(reuse + 1);
    expect(sample(after, "cypher_revocations_published_total")).toBe(published + 1);
    abort.abort();
    await following;
    await vi.waitFor(async () => expect(sample(await scrape(), "cypher_revocation_watch_streams")).toBe(0));
  });

  it("reports PostgreSQL and the KV store up, with their ping times, and Node's process metrics", async () => {
    const text = await scrape();
    expect(sample(text, "cypher_database_up")).toBe(1);
    expect(sample(text, "cypher_kv_up")).toBe(1);
    expect(sample(text, "cypher_database_ping_seconds")).toBeGreaterThan(0);
    expect(sample(text, "cypher_kv_ping_seconds")).toBeGreaterThan(0);
    expect(sample(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sample(text, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  });

  it("passes `promtool check metrics`, except prom-client's own nodejs_active_*_total gauges", async () => {
    // .ci/run installs the Debian package `prometheus`, which brings promtool.
    expect(existsSync(PROMTOOL), `${PROMTOOL} is required (apt-get install prometheus)`).toBe(true);
    const text = await scrape();
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      const child = execFile(PROMTOOL, ["check", "metrics"], (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
      child.stdin!.end(text);
    });
    const problems = output.split("\n").filter((line) => line.trim() !== "");
    const ours = problems.filter((line) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(line));
    expect(ours).toEqual([]);
    // promtool fails on lint findings; with only the known ones left, every failure is accounted for.
    if (code !== 0) expect(problems.length).toBeGreaterThan(0);
    expect(text).toMatch(/^# TYPE grpc_server_handling_seconds histogram$/m);
    expect(text).toMatch(/^grpc_server_handling_seconds_bucket\{port="internal",grpc_type="unary",grpc_service="cypher\.session\.v1\.SessionService",grpc_method="VerifySession",le="0\.005"\} \d+$/m);
  });

  it("answers GET /metrics only", async () => {
    expect((await fetch(`http://127.0.0.1:${metricsPort}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics/x`)).status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});

describe("the metrics port's life", () => {
  it("closes with the server, and is not opened with METRICS_PORT=off", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-metrics-life-"));
    try {
      const base = { PORT: "0", GRPC_PORT: "off", HOST: "127.0.0.1", DATA_DIR: dir, OPAQUE_WORKER_THREADS: "1" };
      const server = await startCypherServer({ config: loadConfig({ ...base, METRICS_PORT: "0" }), logger: silentLogger, env: {} });
      const url = `http://127.0.0.1:${server.metricsPort}/metrics`;
      expect((await fetch(url)).status).toBe(200);
      await server.stop();
      await expect(fetch(url)).rejects.toThrow();

      const off = await startCypherServer({ config: loadConfig({ ...base, METRICS_PORT: "off" }), logger: silentLogger, env: {} });
      expect(off.metricsPort).toBeNull();
      await off.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000); // two embedded-PostgreSQL start-ups, each several seconds on a busy machine
});
