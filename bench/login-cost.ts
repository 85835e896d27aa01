/**
 * Server CPU per OPAQUE operation (the code the workers run, called in this thread) beside one
 * native P-256 ECDH measured in the same run, and their ratio: the figure issue #15 asks for.
 * A shared or busy machine moves both numbers together; the ratio is what to compare.
 *
 *   npx tsx bench/login-cost.ts [--rounds 5] [--calls 200]
 *
 * `npm run bench` runs it first; it writes its summary to bench/LOGIN-COST.md.
 * CPU is process CPU (process.cpuUsage: this thread plus any work it hands to other threads)
 * around each call, calls one after another. LoginInit is measured for a registered user and
 * for unknown usernames (fake records): they must cost the same.
 */
import { createECDH, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { IdentityMemHardFn } from "@cloudflare/opaque-ts";
import { inProcessOpaque } from "../client/opaque-client.js";
import { deriveFakeRecord } from "../server/auth/opaque/fake-record.js";
import { createOpaqueOperations } from "../server/auth/opaque/opaque-operations.mjs";
import { generateKeyMaterial } from "../server/keys/load-key-material.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, calls: { type: "string", default: "200" } } });
const rounds = Number(values.rounds);
const calls = Number(values.calls);

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

async function perCall(run: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 20; i++) await run(i);
  const costs: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = cpuMs();
    await run(i);
    costs.push(cpuMs() - start);
  }
  return costs.sort((a, b) => a - b);
}

function ecdhCost(): number {
  const ours = createECDH("prime256v1");
  ours.generateKeys();
  const peer = createECDH("prime256v1");
  peer.generateKeys();
  const theirs = peer.getPublicKey();
  for (let i = 0; i < 200; i++) ours.computeSecret(theirs);
  const n = 2000;
  const start = cpuMs();
  for (let i = 0; i < n; i++) ours.computeSecret(theirs);
  return (cpuMs() - start) / n;
}

const material = await generateKeyMaterial();
const keys = { ...material.opaque, serverIdentity: "bench" };
const operations = createOpaqueOperations(keys);

// One registered user, and KE1s from the client driver's (stock opaque-ts) client.
const opaque = inProcessOpaque(IdentityMemHardFn);
const registration = await opaque.startRegistration("bench password");
const registrationRequest = registration.request;
const record = await registration.finish(await operations.registerInit("alice", registrationRequest), "bench", "alice");
const ke1s: Uint8Array[] = [];
for (let i = 0; i < 16; i++) ke1s.push((await opaque.startLogin("bench password")).ke1);
const fakeUsernames = Array.from({ length: calls + 20 }, () => `unknown-${randomBytes(6).toString("hex")}`);
const fakeRecords = fakeUsernames.map((name) => deriveFakeRecord(keys.oprfSeed, name));

interface Row {
  ecdh: number;
  real: number[];
  unknown: number[];
  register: number[];
}
const rows: Row[] = [];
for (let round = 0; round < rounds; round++) {
  const ecdh = ecdhCost();
  const real = await perCall((i) => operations.authInit("alice", ke1s[i % ke1s.length]!, record));
  const unknown = await perCall((i) => operations.authInit(fakeUsernames[i]!, ke1s[i % ke1s.length]!, fakeRecords[i]!));
  const register = await perCall((i) => operations.registerInit(`user-${i}`, registrationRequest));
  rows.push({ ecdh, real, unknown, register });
  const fmt = (xs: number[]): string => `p50 ${quantile(xs, 0.5).toFixed(2)} p90 ${quantile(xs, 0.9).toFixed(2)} p99 ${quantile(xs, 0.99).toFixed(2)} ms`;
  console.log(
    `round ${round + 1}: ECDH ${ecdh.toFixed(3)} ms | LoginInit real ${fmt(real)} (${(quantile(real, 0.5) / ecdh).toFixed(1)}×) | ` +
      `unknown ${fmt(unknown)} (${(quantile(unknown, 0.5) / ecdh).toFixed(1)}×) | RegisterInit ${fmt(register)} (${(quantile(register, 0.5) / ecdh).toFixed(1)}×)`,
  );
}

const ratio = (pick: (row: Row) => number[]): number => median(rows.map((row) => quantile(pick(row), 0.5) / row.ecdh));
const loginCpu = median(rows.map((row) => quantile(row.real, 0.5)));
const dist = (pick: (row: Row) => number[], q: number): string => median(rows.map((row) => quantile(pick(row), q))).toFixed(2);
const summary = [
  `| | CPU per call, ms (p50 / p90 / p99) | p50 ÷ one native ECDH |`,
  `|---|---|---|`,
  `| one native P-256 ECDH (\`computeSecret\`) | ${median(rows.map((r) => r.ecdh)).toFixed(3)} | 1 |`,
  `| LoginInit, registered user | ${dist((r) => r.real, 0.5)} / ${dist((r) => r.real, 0.9)} / ${dist((r) => r.real, 0.99)} | ${ratio((r) => r.real).toFixed(1)}× |`,
  `| LoginInit, unknown username (fake record) | ${dist((r) => r.unknown, 0.5)} / ${dist((r) => r.unknown, 0.9)} / ${dist((r) => r.unknown, 0.99)} | ${ratio((r) => r.unknown).toFixed(1)}× |`,
  `| RegisterInit | ${dist((r) => r.register, 0.5)} / ${dist((r) => r.register, 0.9)} / ${dist((r) => r.register, 0.99)} | ${ratio((r) => r.register).toFixed(1)}× |`,
].join("\n");
console.log(`\nmedians over ${rounds} rounds × ${calls} calls:\n${summary}`);
console.log(`=> about ${Math.floor(1000 / loginCpu)} LoginInit/s per core (OPAQUE work alone)`);
writeFileSync(
  new URL("./LOGIN-COST.md", import.meta.url),
  `# OPAQUE server CPU per operation

Written by \`npx tsx bench/login-cost.ts --rounds ${rounds} --calls ${calls}\` (run first by \`npm run bench\`) on ${new Date().toISOString()}:
${os.cpus()[0]?.model.trim() ?? "unknown CPU"}, ${os.availableParallelism()} cores, Node ${process.version}, load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}.
The production OPAQUE operations (opaque-operations.mjs, as a worker runs them) called one after another in
one thread; CPU is the process's (this thread and any other it hands work to). Each figure is
the median over ${rounds} rounds of that round's quantile over ${calls} calls; the ratio divides each round's
median by the native ECDH measured in the same round. On a busy machine both move together: compare ratios.

${summary}

About ${Math.floor(1000 / loginCpu)} LoginInit/s per core of OPAQUE work (1000 ms ÷ the median LoginInit CPU).
`,
);
