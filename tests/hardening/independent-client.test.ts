/**
 * The independent client: tests/independent/malformed_calls.py (Python 3, standard library only, no
 * Connect or protobuf library) sends thousands of malformed Connect (JSON and binary, HTTP/1.1) and
 * gRPC-Web calls to every RPC of a real Cypher and checks the answers and health itself. Run from
 * here so CI runs it against a fresh server.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startHardeningServer, type HardeningServer } from "./support/hardening-server.js";

const execFileAsync = promisify(execFile);
const CALLS_PER_RPC = 300; // x 13 RPCs = 3,900 calls, ~4 s

let s: HardeningServer;
beforeAll(async () => {
  s = await startHardeningServer();
});
afterAll(async () => {
  await s?.stop();
});

interface Summary {
  seed: number;
  calls: number;
  healthChecks: number;
  codes: Record<string, number>;
  failures: unknown[];
  failureCount: number;
}

it(`a Python client's ${CALLS_PER_RPC * 13} malformed calls get no Internal/Unknown beyond parse errors, leak nothing, and health keeps answering`, { timeout: 120_000 }, async () => {
  // Async on purpose: the server runs in this process and must keep serving while Python runs.
  const result = await execFileAsync("python3", ["tests/independent/malformed_calls.py", s.baseUrl, String(CALLS_PER_RPC)], {
    env: { ...process.env, CALL_TIMEOUT_S: "10" },
  }).catch((error: { stdout?: string; stderr?: string }) => error);
  const stdout = result.stdout ?? "";
  const summary = JSON.parse(stdout.trim().split("\n").pop() || "{}") as Summary;
  expect(summary.failures, `seed ${summary.seed}: ${stdout}`).toEqual([]);
  expect(summary.failureCount).toBe(0);
  expect(summary.calls).toBe(CALLS_PER_RPC * 13);
  expect(summary.healthChecks).toBeGreaterThan(13);
  expect(summary.codes.unknown ?? 0).toBe(0);
  expect(s.unexpectedErrors()).toEqual([]);
});
