/**
 * Does the event loop stay free while logins run? And what does a login cost the server?
 *
 *   npx tsx bench/login-event-loop.ts            (BENCH_RATE=20 BENCH_SECONDS=20 by default)
 *
 * Three processes, so that nothing but the server's own work lands in the server's measurements:
 *  - the SERVER (child process): AuthService over h2c (connect-node), in-process KV, in-memory PGlite
 *    (or PostgreSQL: BENCH_DATABASE_URL=postgres://…, in a schema of its own), OPAQUE
 *    in the worker pool ("workers", as deployed) or on the event loop ("inline", the baseline). It
 *    measures its event-loop delay (perf_hooks.monitorEventLoopDelay, resolution subtracted), the
 *    main thread's utilization, and its CPU time (process.cpuUsage covers every thread of the
 *    process, the OPAQUE workers included).
 *  - a PROBE (child process): a cheap RPC every 10 ms (LoginFinish with a malformed login_id,
 *    answered without touching storage), timing the round trip: how long any other call waits.
 *  - this DRIVER: offers BENCH_RATE LoginInits per second for BENCH_SECONDS. One in
 *    BENCH_FULL_LOGIN_EVERY (default 10) is a complete login of a real, TOTP-enrolled account
 *    (client authInit, LoginInit, client authFinish, LoginFinish); the others are failed-password
 *    attempts (LoginInit for names without an account, which the server answers at the same cost).
 *    The client's OPAQUE work (the client driver's steps, client/) runs in a worker thread of the
 *    driver (support/threaded-opaque.ts), on the same machine: it takes CPU the server could
 *    otherwise use, hence few complete logins. Bench accounts use opaque-ts's
 *    IdentityMemHardFn on the client: the server's work is the same whatever stretching the client
 *    uses, and scrypt would need more cores than the server.
 * Each mode also gets an idle phase (no load) as the floor.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import type { AuthClient } from "../client/cypher-clients.js";
import { completeLogin } from "../client/login.js";
import { enrollTotp, register } from "../client/registration.js";
import { AuthService } from "../gen/cypher/auth/v1/auth_pb.js";
import { ThreadedOpaque } from "./support/threaded-opaque.js";

const SELF = fileURLToPath(import.meta.url);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const IDLE_SECONDS = 5;
/** One LoginInit in this many is a complete login; the client work for those runs on this machine too. */
const FULL_LOGIN_EVERY = Number(process.env.BENCH_FULL_LOGIN_EVERY ?? 10);
const REAL_USERS = 4;
const ELD_RESOLUTION_MS = 10;

type Mode = "workers" | "inline";

interface ServerStats {
  seconds: number;
  cpuMs: number;
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  mainThreadUtilization: number;
}

interface ProbeStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ---------------------------------------------------------------- server (child process)

async function runServer(): Promise<void> {
  const mode = (process.env.BENCH_OPAQUE ?? "workers") as Mode;
  const [{ loadConfig }, { systemClock }, { silentLogger }, { generateKeyMaterial }, { openDatabase }, { migrateToLatest }, { MemoryKeyValueStore }, { createPasetoTokenService }, { createAuthModule }, { createErrorMappingInterceptor }] =
    await Promise.all([
      import("../server/config.js"),
      import("../server/clock.js"),
      import("../server/logger.js"),
      import("../server/keys/load-key-material.js"),
      import("../server/storage/open-database.js"),
      import("../server/storage/migrate.js"),
      import("../server/storage/kv/memory-key-value-store.js"),
      import("../server/tokens/paseto-token-service.js"),
      import("../server/rpc/auth-module.js"),
      import("../server/transport/error-mapping.js"),
    ]);
  const config = loadConfig({
    GRPC_PORT: "off",
    // The bench measures cost, not the attempt limits: keep them out of the way.
    LOGIN_MAX_FAILURES_PER_USERNAME: "100",
    LOGIN_BACKOFF_FREE_FAILURES: "100",
    LOGIN_MAX_ATTEMPTS_PER_IP: "1000000",
    REGISTER_MAX_PER_IP: "1000000",
  });
  // BENCH_DATABASE_URL: PostgreSQL (a schema of its own, dropped afterwards), as deployed; otherwise
  // in-memory PGlite, whose WebAssembly runs on the event loop and so shows up in its delay.
  const { createScratchSchema } = await import("../tests/storage/postgres-test-schema.js");
  const schema = process.env.BENCH_DATABASE_URL ? await createScratchSchema(process.env.BENCH_DATABASE_URL, "cypher_bench") : undefined;
  const database = openDatabase(schema ? { kind: "postgres", url: schema.url } : { kind: "memory" });
  await migrateToLatest(database.db);
  const kv = new MemoryKeyValueStore();
  const keys = await generateKeyMaterial();
  const ctx = { config, clock: systemClock, logger: silentLogger, db: database.db, kv, keys };
  const tokens = await createPasetoTokenService(keys, systemClock);
  const auth = await createAuthModule(ctx, tokens, { opaque: mode });
  const server = http2.createServer(
    connectNodeAdapter({
      routes: (router) => router.service(AuthService, auth.service),
      interceptors: [createErrorMappingInterceptor(silentLogger)],
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;

  const histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  let phase: { startedAt: number; cpu: NodeJS.CpuUsage; elu: ReturnType<typeof performance.eventLoopUtilization> } | undefined;
  const delayMs = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);

  process.on("message", async (message: { type: string }) => {
    if (message.type === "start") {
      histogram.reset();
      histogram.enable();
      phase = { startedAt: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() };
      process.send!({ type: "started" });
    } else if (message.type === "stop" && phase) {
      histogram.disable();
      const cpu = process.cpuUsage(phase.cpu);
      const stats: ServerStats = {
        seconds: (performance.now() - phase.startedAt) / 1000,
        cpuMs: (cpu.user + cpu.system) / 1000,
        eldP50Ms: delayMs(histogram.percentile(50)),
        eldP99Ms: delayMs(histogram.percentile(99)),
        eldMaxMs: delayMs(histogram.max),
        mainThreadUtilization: performance.eventLoopUtilization(phase.elu).utilization,
      };
      process.send!({ type: "stats", stats });
    } else if (message.type === "exit") {
      server.close();
      await auth.close();
      await kv.close();
      await database.close();
      await schema?.drop();
      process.exit(0);
    }
  });
  process.send!({ type: "ready", port });
}

// ---------------------------------------------------------------- probe (child process)

async function runProbe(): Promise<void> {
  const port = Number(process.env.BENCH_PORT);
  const client = createClient(AuthService, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }));
  let samples: number[] = [];
  let running = false;
  const ke3 = new Uint8Array(32);
  const loop = async () => {
    while (running) {
      const started = performance.now();
      try {
        await client.loginFinish({ loginId: "probe", ke3 });
      } catch {
        // Unauthenticated, as intended.
      }
      samples.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  process.on("message", (message: { type: string }) => {
    if (message.type === "start") {
      samples = [];
      running = true;
      void loop();
      process.send!({ type: "started" });
    } else if (message.type === "stop") {
      running = false;
      const sorted = [...samples].sort((a, b) => a - b);
      const stats: ProbeStats = { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? NaN };
      process.send!({ type: "stats", stats });
    } else if (message.type === "exit") {
      process.exit(0);
    }
  });
  process.send!({ type: "ready" });
}

// ---------------------------------------------------------------- driver

function startChild(role: string, env: Record<string, string>): Promise<{ child: ChildProcess; ready: any }> {
  const child = fork(SELF, [role], { env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
    child.once("message", (ready) => resolve({ child, ready }));
  });
}

function ask<T>(child: ChildProcess, type: string, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string; stats?: T }) => {
      if (m.type !== reply) return;
      child.off("message", onMessage);
      resolve(m.stats as T);
    };
    child.on("message", onMessage);
    child.send({ type });
  });
}

interface LoadResult {
  offered: number;
  initOk: number;
  initRefused: number;
  initFailed: number;
  /** Codes of the failures other than ResourceExhausted. */
  failureCodes: Set<string>;
  loginsCompleted: number;
  initLatencyP50Ms: number;
  initLatencyP99Ms: number;
}

async function setUpAccounts(client: AuthClient, crypto: ThreadedOpaque): Promise<string[]> {
  const { totpCodeAt } = await import("../server/auth/totp.js");
  const names: string[] = [];
  for (let i = 0; i < REAL_USERS; i++) {
    const username = `bench-user-${i}`;
    const { enrollmentToken } = await register(client, username, `password ${i}`, { opaque: crypto });
    await enrollTotp(client, enrollmentToken, (secret) => totpCodeAt(secret, new Date()));
    names.push(username);
  }
  return names;
}

async function offerLoad(client: AuthClient, crypto: ThreadedOpaque, users: string[], failedKe1: Uint8Array): Promise<LoadResult> {
  const result: LoadResult = { offered: 0, initOk: 0, initRefused: 0, initFailed: 0, failureCodes: new Set(), loginsCompleted: 0, initLatencyP50Ms: NaN, initLatencyP99Ms: NaN };
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();

  const loginInit = async (username: string, ke1: Uint8Array) => {
    const started = performance.now();
    try {
      const response = await client.loginInit({ username, ke1 });
      latencies.push(performance.now() - started);
      result.initOk++;
      return response;
    } catch (e) {
      const code = ConnectError.from(e).code;
      if (code === Code.ResourceExhausted) result.initRefused++;
      else {
        result.initFailed++;
        result.failureCodes.add(Code[code]);
      }
      return undefined;
    }
  };

  const launch = (i: number) => {
    const work = (async () => {
      if (i % FULL_LOGIN_EVERY === 0) {
        const username = users[(i / FULL_LOGIN_EVERY) % users.length]!;
        const index = users.indexOf(username);
        const login = await crypto.startLogin(`password ${index}`);
        const response = await loginInit(username, login.ke1);
        if (!response) return;
        await completeLogin(client, username, login, response);
        result.loginsCompleted++;
      } else {
        await loginInit(`nobody-${i}-${randomBytes(3).toString("hex")}`, failedKe1);
      }
    })().catch((e: unknown) => {
      result.initFailed++;
      result.failureCodes.add(`LoginFinish ${Code[ConnectError.from(e).code]}`);
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  // Launch by elapsed time, not by timer ticks, so a late tick does not lower the offered rate.
  const startedAt = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsedS = (performance.now() - startedAt) / 1000;
      const due = Math.min(Math.floor(elapsedS * RATE), RATE * SECONDS);
      while (result.offered < due) launch(result.offered++);
      if (elapsedS >= SECONDS) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all([...inFlight]);
  const sorted = latencies.sort((a, b) => a - b);
  result.initLatencyP50Ms = percentile(sorted, 50);
  result.initLatencyP99Ms = percentile(sorted, 99);
  return result;
}

interface Row {
  mode: string;
  phase: string;
  server: ServerStats;
  probe: ProbeStats;
  load?: LoadResult;
  /** Cores busy machine-wide during the phase (every process: this bench and anything else running). */
  machineCores: number;
}

/** Busy and total jiffies of all CPUs so far (Linux /proc/stat); undefined elsewhere. */
async function cpuJiffies(): Promise<{ busy: number; total: number } | undefined> {
  try {
    const { readFile } = await import("node:fs/promises");
    const fields = (await readFile("/proc/stat", "utf8")).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

async function runMode(mode: Mode, crypto: ThreadedOpaque): Promise<Row[]> {
  const { child: server, ready } = await startChild("--server", { BENCH_OPAQUE: mode });
  const port = (ready as { port: number }).port;
  const { child: probe } = await startChild("--probe", { BENCH_PORT: String(port) });
  const client = createClient(AuthService, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }));
  try {
    const users = await setUpAccounts(client, crypto);
    const failedKe1 = (await crypto.startLogin("not the password")).ke1;
    const rows: Row[] = [];

    const measure = async (phase: string, during: () => Promise<LoadResult | undefined>) => {
      await Promise.all([ask(server, "start", "started"), ask(probe, "start", "started")]);
      const before = await cpuJiffies();
      const load = await during();
      const after = await cpuJiffies();
      const [serverStats, probeStats] = await Promise.all([ask<ServerStats>(server, "stop", "stats"), ask<ProbeStats>(probe, "stop", "stats")]);
      const cpus = (await import("node:os")).availableParallelism();
      const machineCores = before && after ? ((after.busy - before.busy) / (after.total - before.total)) * cpus : NaN;
      rows.push({ mode, phase, server: serverStats, probe: probeStats, load, machineCores });
    };
    await measure("idle", async () => {
      await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
      return undefined;
    });
    await measure(`${RATE} logins/s`, () => offerLoad(client, crypto, users, failedKe1));
    return rows;
  } finally {
    server.removeAllListeners("exit");
    probe.removeAllListeners("exit");
    server.send({ type: "exit" });
    probe.send({ type: "exit" });
  }
}

function printTable(rows: Row[]): void {
  const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
  const header = [
    "OPAQUE on",
    "phase",
    "LoginInit ok/refused",
    "full logins",
    "server CPU ms per LoginInit (net of idle)",
    "server / machine cores busy",
    "event-loop delay p50 / p99 / max ms",
    "main thread busy",
    "probe RPC p50 / p99 ms",
    "LoginInit latency p50 / p99 ms",
  ];
  // The idle phase's CPU rate (the probe's calls, timers) taken off the load phase's CPU.
  const netCpuMs = (r: Row) => {
    const idle = rows.find((o) => o.mode === r.mode && !o.load);
    return idle ? r.server.cpuMs - (idle.server.cpuMs / idle.server.seconds) * r.server.seconds : r.server.cpuMs;
  };
  const lines = rows.map((r) => [
    r.mode,
    r.phase,
    r.load ? `${r.load.initOk}/${r.load.initRefused}${r.load.initFailed ? ` (+${r.load.initFailed} ${[...r.load.failureCodes].join(", ")})` : ""}` : "-",
    r.load ? String(r.load.loginsCompleted) : "-",
    r.load && r.load.initOk > 0 ? `${fmt(r.server.cpuMs / r.load.initOk)} (${fmt(netCpuMs(r) / r.load.initOk)})` : "-",
    `${fmt(r.server.cpuMs / 1000 / r.server.seconds, 2)} / ${fmt(r.machineCores, 2)}`,
    `${fmt(r.server.eldP50Ms)} / ${fmt(r.server.eldP99Ms)} / ${fmt(r.server.eldMaxMs)}`,
    `${fmt(r.server.mainThreadUtilization * 100, 0)}%`,
    `${fmt(r.probe.p50Ms)} / ${fmt(r.probe.p99Ms)}`,
    r.load ? `${fmt(r.load.initLatencyP50Ms, 0)} / ${fmt(r.load.initLatencyP99Ms, 0)}` : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(row(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of lines) console.log(row(l));
}

async function runDriver(): Promise<void> {
  const { availableParallelism, loadavg } = await import("node:os");
  const { loadConfig } = await import("../server/config.js");
  console.log(
    `login-event-loop: ${RATE} LoginInits/s offered for ${SECONDS} s (1 in ${FULL_LOGIN_EVERY} a complete login), ` +
      `${availableParallelism()} CPUs, ${loadConfig({ GRPC_PORT: "off" }).opaque.workerThreads} OPAQUE worker threads, ` +
      `node ${process.version}, database ${process.env.BENCH_DATABASE_URL ? "PostgreSQL" : "PGlite (in-process)"}, ` +
      `load average before the run ${loadavg()[0]!.toFixed(2)}`,
  );
  const crypto = new ThreadedOpaque();
  const rows: Row[] = [];
  try {
    for (const mode of ["workers", "inline"] as const) rows.push(...(await runMode(mode, crypto)));
  } finally {
    await crypto.close();
  }
  printTable(rows);
  console.log(
    "event-loop delay: monitorEventLoopDelay in the server process, timer resolution subtracted. " +
      "CPU: process.cpuUsage of the server process (every thread), over the phase, divided by the LoginInits it answered; " +
      "net of idle: minus the idle phase's CPU rate (the probe's calls) over the same time.",
  );
}

if (process.argv.includes("--server")) await runServer();
else if (process.argv.includes("--probe")) await runProbe();
else await runDriver();
