/**
 * Soak: a bounded mixed load against `server/main.ts` in a child process (embedded PGlite and
 * in-process KV, or DATABASE_URL / REDIS_URL when set), sampling the server's RSS and the latency of
 * each call per window, then saying whether both stayed stable.
 *
 *   npx tsx bench/soak.ts                       # 5 minutes, 30 s windows
 *   SOAK_SECONDS=60 SOAK_WINDOW_SECONDS=10 npx tsx bench/soak.ts
 *
 * Load: SOAK_CONCURRENCY workers (default 16) in a loop over a pool of live sessions, each call
 * picked by weight: VerifySession 75 %, ListSessions 10 %, RefreshSession 15 %; and, in a second
 * process (the OPAQUE client's arithmetic would otherwise stall this one's event loop and inflate
 * every latency measured here), SOAK_LOGIN_WORKERS (default 2) loops of a full login (OPAQUE +
 * TOTP/recovery code + CreateSession) followed by Logout.
 * "Stable": after the warm-up window, peak RSS in the second half is within 15 % of the first
 * half's, and the last window's p99 is within 2x (plus 5 ms) of the median window's.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createConnectTransport } from "@connectrpc/connect-node";
import { buildServer } from "../server/build-server.js";
import { PROJECT_ROOT } from "../server/project-root.js";
import { bearer, cypherClients, login, registerUser, type Tokens, type User } from "./support/cypher-user.js";
import { startServerProcess } from "./support/server-process.js";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const WINDOW_SECONDS = Number(process.env.SOAK_WINDOW_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const USERS = Number(process.env.SOAK_USERS ?? 24);

const LOGIN_WORKERS = Number(process.env.SOAK_LOGIN_WORKERS ?? 2);

type Op = "verify" | "list" | "refresh" | "login" | "logout";
const WEIGHTS: Array<[Op, number]> = [["verify", 75], ["list", 10], ["refresh", 15]];
const OPS: Op[] = ["verify", "list", "refresh", "login", "logout"];

interface Window {
  latenciesMs: Map<Op, number[]>;
  errors: Map<string, number>;
}
const newWindow = (): Window => ({ latenciesMs: new Map(OPS.map((op) => [op, []])), errors: new Map() });

function pick(): Op {
  let r = Math.random() * 100;
  for (const [op, w] of WEIGHTS) if ((r -= w) < 0) return op;
  return "verify";
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-soak-"));
  // The server compiled as `npm start` runs it (server/build-server.ts).
  const build = await buildServer({ outDir: path.join(PROJECT_ROOT, ".build", `soak-${process.pid}`) });
  process.once("exit", () => rmSync(build.outDir, { recursive: true, force: true }));
  const server = await startServerProcess({
    DATA_DIR: dir,
    LOG_LEVEL: "info", // production's default: its log lines are part of the load
    REGISTER_MAX_PER_IP: "100000",
    LOGIN_MAX_ATTEMPTS_PER_IP: "1000000",
    LOGIN_BACKOFF_BASE_MS: "0",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name === "REDIS_URL" || name.startsWith("REDIS_CLUSTER_"))),
  }, { entry: path.join(build.outDir, "server", "main.js") });
  const c = cypherClients(createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", useBinaryFormat: true }));
  console.log(`server pid ${server.pid} on ${server.baseUrl}; ${SECONDS} s, ${WINDOW_SECONDS} s windows, ${CONCURRENCY} workers, ${USERS} users`);

  const users: User[] = [];
  for (let i = 0; i < USERS; i++) users.push(await registerUser(c, `soak-${process.pid}-${i}`));
  const sessions: Tokens[] = [];
  for (const user of users.slice(0, CONCURRENCY)) sessions.push(await login(c, user));
  let userTurn = 0;
  const nextUser = () => users[userTurn++ % users.length]!;

  const windows: Array<Window & { rssKiB: number; endedAtS: number }> = [];
  let current = newWindow();
  const startedAt = Date.now();
  const deadline = startedAt + SECONDS * 1000;
  const sampler = setInterval(() => {
    windows.push({ ...current, rssKiB: server.rssKiB(), endedAtS: Math.round((Date.now() - startedAt) / 1000) });
    current = newWindow();
  }, WINDOW_SECONDS * 1000);

  async function worker(slot: number): Promise<void> {
    while (Date.now() < deadline) {
      const op = pick();
      const t0 = performance.now();
      const w = current;
      try {
        const s = sessions[slot]!;
        switch (op) {
          case "verify":
            await c.session.verifySession({ accessToken: s.accessToken });
            break;
          case "list":
            await c.session.listSessions({}, bearer(s.accessToken));
            break;
          case "refresh": {
            const r = await c.session.refreshSession({ refreshToken: s.refreshToken });
            sessions[slot] = { sessionId: s.sessionId, accessToken: r.tokens!.accessToken, refreshToken: r.tokens!.refreshToken };
            break;
          }
        }
        w.latenciesMs.get(op)!.push(performance.now() - t0);
      } catch (error) {
        const key = `${op}: ${error instanceof Error ? error.message.slice(0, 80) : String(error)}`;
        w.errors.set(key, (w.errors.get(key) ?? 0) + 1);
        if (op === "refresh") {
          try {
            sessions[slot] = await login(c, nextUser());
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    }
  }

  const logins = startLoginDriver(server.baseUrl, () => current, deadline);
  await Promise.all([...Array.from({ length: CONCURRENCY }, (_, i) => worker(i)), logins]);
  clearInterval(sampler);
  if (current.latenciesMs.get("verify")!.length > 0 && (Date.now() - startedAt) / 1000 - (windows.at(-1)?.endedAtS ?? 0) > WINDOW_SECONDS / 2) {
    windows.push({ ...current, rssKiB: server.rssKiB(), endedAtS: Math.round((Date.now() - startedAt) / 1000) });
  }

  const rows = windows.map((w) => {
    const all = [...w.latenciesMs.values()].flat().sort((a, b) => a - b);
    const verify = [...w.latenciesMs.get("verify")!].sort((a, b) => a - b);
    const logins = [...w.latenciesMs.get("login")!].sort((a, b) => a - b);
    const errors = [...w.errors.values()].reduce((a, b) => a + b, 0);
    return {
      "t (s)": w.endedAtS,
      "RSS (MiB)": Math.round((w.rssKiB / 1024) * 10) / 10,
      calls: all.length,
      "calls/s": Math.round(all.length / WINDOW_SECONDS),
      "p50 ms": round(percentile(all, 50)),
      "p99 ms": round(percentile(all, 99)),
      "verify p50": round(percentile(verify, 50)),
      "verify p99": round(percentile(verify, 99)),
      "refresh p99": round(percentile([...w.latenciesMs.get("refresh")!].sort((a, b) => a - b), 99)),
      logins: logins.length,
      "login p50": round(percentile(logins, 50)),
      "login p99": round(percentile(logins, 99)),
      errors,
    };
  });
  console.table(rows);
  const errorKinds = new Map<string, number>();
  for (const w of windows) for (const [k, n] of w.errors) errorKinds.set(k, (errorKinds.get(k) ?? 0) + n);
  if (errorKinds.size > 0) console.log("errors:", Object.fromEntries(errorKinds));

  // The first window includes warm-up (JIT, pools, caches). On a small machine the load generator
  // shares the CPU with the server, so single windows are noisy: compare the last window with the
  // median of the windows after warm-up, and the second half's RSS with the first half's.
  const settled = rows.slice(1);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const last = rows.at(-1)!;
  const half = Math.floor(settled.length / 2);
  const rssFirstHalf = Math.max(...settled.slice(0, Math.max(1, half)).map((r) => r["RSS (MiB)"]));
  const rssSecondHalf = Math.max(...settled.slice(half).map((r) => r["RSS (MiB)"]));
  const p99Median = median(settled.map((r) => r["p99 ms"]));
  const rssStable = rssSecondHalf <= rssFirstHalf * 1.15;
  const p99Stable = last["p99 ms"] <= p99Median * 2 + 5;
  console.log(
    `RSS peak ${rssFirstHalf} MiB (first half) -> ${rssSecondHalf} MiB (second half): ${rssStable ? "stable" : "GROWING"}; ` +
      `p99 median ${p99Median} ms, last window ${last["p99 ms"]} ms: ${p99Stable ? "stable" : "DEGRADING"}; ` +
      `errors ${rows.reduce((n, r) => n + r.errors, 0)}`,
  );

  server.child.kill("SIGTERM");
  const code = await server.exited;
  rmSync(dir, { recursive: true, force: true });
  console.log(`server exited with ${code}`);
  process.exit(rssStable && p99Stable && code === 0 ? 0 : 1);
}

/**
 * The login half of the load, in a child process running this file with `--logins`: it prints one
 * JSON line per finished call, which lands in the current window here.
 */
function startLoginDriver(baseUrl: string, window: () => Window, deadline: number): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--logins", baseUrl, String(deadline)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const m = JSON.parse(line) as { op: Op; ms?: number; error?: string };
      const w = window();
      if (m.error !== undefined) w.errors.set(`${m.op}: ${m.error}`, (w.errors.get(`${m.op}: ${m.error}`) ?? 0) + 1);
      else w.latenciesMs.get(m.op)!.push(m.ms!);
    }
  });
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function loginDriver(baseUrl: string, deadline: number): Promise<void> {
  const c = cypherClients(createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }));
  const users: User[] = [];
  // A user can log in once per 30 s TOTP step (plus ten recovery codes): enough users that a
  // worker always finds one with a fresh step at ~2 logins/s per worker.
  for (let i = 0; i < LOGIN_WORKERS * 40; i++) users.push(await registerUser(c, `soak-login-${process.pid}-${i}`));
  let turn = 0;
  const emit = (m: object) => process.stdout.write(JSON.stringify(m) + "\n");
  await Promise.all(
    Array.from({ length: LOGIN_WORKERS }, async () => {
      while (Date.now() < deadline) {
        const user = users[turn++ % users.length]!;
        let t0 = performance.now();
        try {
          const s = await login(c, user);
          emit({ op: "login", ms: performance.now() - t0 });
          t0 = performance.now();
          await c.session.logout({}, bearer(s.accessToken));
          emit({ op: "logout", ms: performance.now() - t0 });
        } catch (error) {
          emit({ op: "login", error: error instanceof Error ? error.message.slice(0, 80) : String(error) });
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }),
  );
}

function round(n: number): number {
  return Number.isNaN(n) ? NaN : Math.round(n * 10) / 10;
}

if (process.argv[2] === "--logins") await loginDriver(process.argv[3]!, Number(process.argv[4]));
else await main();
