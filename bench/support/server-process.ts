/**
 * `server/main.ts` as a child process on a free port (PORT=0; the port is read from its "serving"
 * log line), for the soak script and the process-level fault tests: from its sources under tsx, or
 * compiled (`entry`: a main.js that server/build-server.ts wrote), as `npm start` runs it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER_NODE_OPTIONS } from "../../server/heap-tuning.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  baseUrl: string;
  /** The latest stdout lines (JSON logs; the "serving" line needs LOG_LEVEL info or debug). */
  lines: string[];
  /** Resident set size in KiB, from /proc (Linux). */
  rssKiB(): number;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

export async function startServerProcess(env: Record<string, string>, options: { startTimeoutMs?: number; entry?: string } = {}): Promise<ServerProcess> {
  const command = options.entry !== undefined ? [options.entry] : ["--import", "tsx", path.join(REPO, "server/main.ts")];
  const child = spawn(process.execPath, [...SERVER_NODE_OPTIONS, ...command], {
    cwd: REPO,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  let buffered = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${lines.join("\n")}`)), options.startTimeoutMs ?? 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 5_000) lines.splice(0, 1_000); // a soak logs a line per call
        if (line.includes('"msg":"serving"')) {
          clearTimeout(timer);
          resolve(Number(new URL((JSON.parse(line) as { url: string }).url).port));
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => lines.push(chunk.toString("utf8").trimEnd()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before serving:\n${lines.join("\n")}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    lines,
    rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0),
    exited,
  };
}
