/**
 * A real Cypher on a free port (embedded PGlite in a temporary DATA_DIR, in-process KV, generated
 * keys) for the hardening tests, with generous attempt limits so fuzzing measures input handling,
 * not the limiters, and a log that remembers every "unexpected error" line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../../server/config.js";
import { startCypherServer, type CypherServer, type StartOptions } from "../../../server/cypher-server.js";
import { createLogger } from "../../../server/logger.js";

export interface HardeningServer {
  server: CypherServer;
  baseUrl: string;
  port: number;
  /** JSON log lines at warn level and above. */
  logs: string[];
  /** Log lines the error mapping wrote for errors it did not recognise (each one a bug). */
  unexpectedErrors(): string[];
  stop(): Promise<void>;
}

/** Limits high enough that a fuzz run never trips them (the limiters have their own tests). */
export const GENEROUS_LIMITS: Record<string, string> = {
  REGISTER_MAX_PER_IP: "1000000",
  LOGIN_MAX_ATTEMPTS_PER_IP: "1000000",
  LOGIN_MAX_FAILURES_PER_USERNAME: "100",
  LOGIN_BACKOFF_BASE_MS: "0",
  OPAQUE_WORKER_THREADS: "1",
  OPAQUE_MAX_QUEUED_CALLS: "1000",
};

export async function startHardeningServer(
  env: Record<string, string> = {},
  options: { fallback?: StartOptions["fallback"] } = {},
): Promise<HardeningServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-hardening-"));
  const serverEnv = { PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", DATA_DIR: dir, ...GENEROUS_LIMITS, ...env };
  const config = loadConfig(serverEnv);
  const logs: string[] = [];
  const server = await startCypherServer({ config, logger: createLogger("warn", (line) => logs.push(line)), env: serverEnv, fallback: options.fallback });
  return {
    server,
    port: server.port,
    baseUrl: `http://127.0.0.1:${server.port}`,
    logs,
    unexpectedErrors: () => logs.filter((l) => l.includes('"unexpected error"') || l.includes('"request rejected"')),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
