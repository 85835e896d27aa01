/**
 * What /metrics costs on the hot path: VerifySession (one token, cycled: the verified-token cache
 * answers) on the internal port, with METRICS_PORT=off and with metrics on, in alternating runs.
 *
 *   npx tsx bench/metrics-overhead.ts        (BENCH_ROUNDS=5 BENCH_SECONDS=5 BENCH_WARMUP_SECONDS=1)
 *
 * The server runs compiled, as `npm start` runs it (bench/measured-server.ts, embedded storage in
 * one data directory shared by every run, LOG_LEVEL=info to /dev/null); each run starts a fresh
 * server process. The load is bench/load-generator.ts (raw HTTP/2 gRPC, 10 connections × 20
 * streams, closed loop) in its own process. Each round runs both modes, the order swapped every
 * round, so drift of the machine's speed falls on both. Prints every run and the medians of RPC/s
 * and of server CPU µs per call.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildServer, SERVER_SOURCES } from "../server/build-server.js";
import { SERVER_NODE_OPTIONS } from "../server/heap-tuning.js";
import { PROJECT_ROOT } from "../server/project-root.js";
import type { LoggedIn } from "./login-flow.js";
import type { LoadResult } from "./load-generator.js";
import type { Usage } from "./usage-report.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const VERIFY = "/cypher.session.v1.SessionService/VerifySession";

/** A forked process answering `{type, id}` commands over IPC (the load generator's and measured server's protocol). */
class Proc {
  #nextId = 1;
  readonly #pending = new Map<number, (message: Record<string, unknown>) => void>();
  #usage: Array<(u: Usage) => void> = [];
  constructor(readonly child: ChildProcess) {
    child.on("message", (message: Record<string, unknown>) => {
      if (message.type === "usage") this.#usage.shift()?.(message as unknown as Usage);
      const settle = typeof message.id === "number" ? this.#pending.get(message.id) : undefined;
      if (settle) {
        this.#pending.delete(message.id as number);
        settle(message);
      }
    });
  }
  static start(child: ChildProcess): Promise<{ proc: Proc; ready: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`exited with ${code} before it was ready`)));
      child.once("message", (ready: Record<string, unknown>) => resolve({ proc: new Proc(child), ready }));
    });
  }
  async call<T>(command: Record<string, unknown>): Promise<T> {
    const id = this.#nextId++;
    const message = await new Promise<Record<string, unknown>>((resolve) => {
      this.#pending.set(id, resolve);
      this.child.send({ ...command, id });
    });
    if (message.type === "failed") throw new Error(String(message.error));
    return message.result as T;
  }
  usage(): Promise<Usage> {
    return new Promise((resolve) => {
      this.#usage.push(resolve);
      this.child.send({ type: "usage" });
    });
  }
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.send({ type: "stop" });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const dataDir = mkdtempSync(path.join(os.tmpdir(), "cypher-metrics-overhead-"));
const compiled = await buildServer({
  outDir: path.join(PROJECT_ROOT, ".build", `metrics-overhead-${process.pid}`),
  sources: [...SERVER_SOURCES, "bench/measured-server.ts", "bench/usage-report.ts", "bench/gc-pauses.ts"],
});
const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
const startServer = (metrics: "on" | "off") =>
  Proc.start(
    fork(path.join(compiled.outDir, "bench", "measured-server.js"), [], {
      execArgv: [...SERVER_NODE_OPTIONS],
      env: { ...baseEnv, PORT: "0", GRPC_PORT: "0", METRICS_PORT: metrics === "on" ? "0" : "off", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "info" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    }),
  );
const { proc: load } = await Proc.start(fork(path.join(HERE, "load-generator.ts"), [], { execArgv: process.execArgv, env: baseEnv, stdio: ["ignore", "ignore", "inherit", "ipc"] }));

const results: Record<"on" | "off", Array<{ rps: number; cpuMicrosPerCall: number }>> = { on: [], off: [] };
try {
  // One account, one session: its access token is the hot token of every run.
  const first = await startServer("on");
  const publicPort = first.ready.port as number;
  const [account] = await load.call<Array<{ username: string; password: string; totpSecret: string }>>({ type: "register", publicPort, count: 1, prefix: `overhead-${process.pid}`, concurrency: 1 });
  const { sessions } = await load.call<{ sessions: LoggedIn[] }>({ type: "login", publicPort, accounts: [account], concurrency: 1 });
  await first.proc.stop();
  await load.call({ type: "prepare", name: "hot", request: { kind: "tokens", tokens: [sessions[0]!.accessToken] } });

  for (let round = 0; round < ROUNDS; round++) {
    const order: Array<"on" | "off"> = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
    for (const mode of order) {
      const { proc: server, ready } = await startServer(mode);
      const result = load.call<LoadResult>({
        type: "load",
        request: { port: ready.grpcPort, path: VERIFY, frames: "hot", distinct: false, connections: 10, streams: 20, warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000 },
      });
      await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000));
      const before = await server.usage();
      const t0 = performance.now();
      const r = await result;
      const after = await server.usage();
      const windowMs = performance.now() - t0;
      await server.stop();
      if (r.errors > 0) throw new Error(`${r.errors} calls failed: ${r.errorSamples.join("; ")}`);
      const cpuMicrosPerCall = ((after.cpuMicros - before.cpuMicros) * (r.elapsedMs / windowMs)) / r.count;
      results[mode].push({ rps: r.rps, cpuMicrosPerCall });
      console.log(`round ${round + 1} metrics ${mode.padEnd(3)}: ${Math.round(r.rps)} RPC/s, ${cpuMicrosPerCall.toFixed(1)} µs server CPU per call, p50 ${r.p50Ms.toFixed(2)} ms`);
    }
  }
  for (const mode of ["off", "on"] as const) {
    const rps = median(results[mode].map((x) => x.rps));
    const cpu = median(results[mode].map((x) => x.cpuMicrosPerCall));
    console.log(`median of ${results[mode].length}, metrics ${mode}: ${Math.round(rps)} RPC/s, ${cpu.toFixed(1)} µs server CPU per call`);
  }
  const ratio = median(results.on.map((x) => x.rps)) / median(results.off.map((x) => x.rps));
  console.log(`metrics on ÷ off (medians of RPC/s): ${(ratio * 100).toFixed(1)} %`);
} finally {
  load.child.send({ type: "exit", id: 0 });
  rmSync(compiled.outDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
