/**
 * The stalled-stream scenario of issue #14 against a compiled server: C connections × S HTTP/2
 * streams that announce a 100-byte gRPC LoginInit body and never send it. Reports how many streams
 * the server has closed (RST_STREAM, or a response ending the stream) at fixed times, and the
 * server's resident memory (VmRSS from /proc/PID/status) before, at the peak and at the end.
 *
 *   npx tsx bench/stalled-streams.ts [--entry path/to/server/main.js] [--connections 20]
 *     [--streams 250] [--observe-seconds 25] [--runs 3] [--target public|internal]
 *
 * Without --entry this checkout is compiled first (server/build-server.ts, into .build/). The
 * frames are written straight to the socket: a real attacker does not wait for the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, so neither does this (streams over that limit are refused by
 * the server at once, and counted as closed). The server runs with its defaults, on PostgreSQL in
 * a scratch schema when TEST_DATABASE_URL is set (embedded PGlite otherwise: its start-up leaves
 * several hundred MB of WASM memory behind, which blurs the figures).
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { buildServer } from "../server/build-server.js";
import { PROJECT_ROOT } from "../server/project-root.js";
import { createScratchSchema } from "../tests/storage/postgres-test-schema.js";
import { startServerProcess, type ServerProcess } from "./support/server-process.js";

const { values: args } = parseArgs({
  options: {
    entry: { type: "string" },
    connections: { type: "string", default: "20" },
    streams: { type: "string", default: "250" },
    "observe-seconds": { type: "string", default: "25" },
    runs: { type: "string", default: "3" },
    target: { type: "string", default: "public" },
  },
});
const CONNECTIONS = Number(args.connections);
const STREAMS = Number(args.streams);
const OBSERVE_MS = Number(args["observe-seconds"]) * 1000;
const RUNS = Number(args.runs);
/** public: LoginInit on the public port (the scenario); internal: VerifySession on the grpc-js port. */
const TARGET = args.target === "internal" ? "internal" : "public";
const PATH = TARGET === "internal" ? "/cypher.session.v1.SessionService/VerifySession" : "/cypher.auth.v1.AuthService/LoginInit";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK literal header fields without indexing, new names, no Huffman (RFC 7541 §6.2.2). */
function headerBlock(fields: Array<[string, string]>): Buffer {
  const parts: number[] = [];
  const str = (s: string) => {
    const bytes = Buffer.from(s, "latin1");
    if (bytes.length >= 127) throw new Error("header too long for this encoder");
    parts.push(bytes.length, ...bytes);
  };
  for (const [name, value] of fields) {
    parts.push(0x00);
    str(name);
    str(value);
  }
  return Buffer.from(parts);
}

/** One attacking connection: opens `streams` stalled LoginInit streams; counts the ones the server closes. */
function attack(port: number, streams: number, requestPath: string): Promise<{ closed: Set<number>; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const closed = new Set<number>();
    const socket = net.connect(port, "127.0.0.1");
    let buffered = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("close", () => {
      // A closed connection ends all its streams.
      for (let i = 0; i < streams; i++) closed.add(1 + 2 * i);
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3]!;
        const flags = buffered[4]!;
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
        const payload = buffered.subarray(9, 9 + length);
        buffered = buffered.subarray(9 + length);
        if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0));
        else if (type === PING && !(flags & ACK)) socket.write(frame(PING, ACK, 0, Buffer.from(payload)));
        else if (type === RST_STREAM) closed.add(streamId);
        else if ((type === HEADERS || type === DATA) && flags & END_STREAM) closed.add(streamId);
        else if (type === GOAWAY) socket.end();
      }
    });
    socket.once("connect", () => {
      const block = headerBlock([
        [":method", "POST"],
        [":scheme", "http"],
        [":path", requestPath],
        [":authority", `127.0.0.1:${port}`],
        ["content-type", "application/grpc"],
        ["content-length", "100"],
        ["te", "trailers"],
      ]);
      const frames = [PREFACE, frame(SETTINGS, 0, 0)];
      for (let i = 0; i < streams; i++) frames.push(frame(HEADERS, END_HEADERS, 1 + 2 * i, block));
      socket.write(Buffer.concat(frames), (error) => (error ? reject(error) : resolve({ closed, socket })));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(entry: string): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "cypher-stalled-"));
  const schema = process.env.TEST_DATABASE_URL ? await createScratchSchema(process.env.TEST_DATABASE_URL, "cypher_bench") : undefined;
  let server: ServerProcess | undefined;
  try {
    server = await startServerProcess({ DATA_DIR: dataDir, GRPC_PORT: TARGET === "internal" ? "0" : "off", ...(schema ? { DATABASE_URL: schema.url } : {}) }, { entry });
    const port = TARGET === "public" ? server.port : internalPort(server);
    await sleep(2_000); // let start-up garbage settle
    const rssBefore = server.rssKiB();
    const startedMs = Date.now();
    const attacks = await Promise.all(Array.from({ length: CONNECTIONS }, () => attack(port, STREAMS, PATH)));
    const closedNow = () => attacks.reduce((n, a) => n + a.closed.size, 0);
    const at: Record<string, number> = {};
    let peak = 0;
    for (let t = 1_000; t <= OBSERVE_MS; t += 1_000) {
      await sleep(startedMs + t - Date.now());
      peak = Math.max(peak, server.rssKiB());
      if (t === 2_000 || t === 5_000 || t === 12_000 || t === OBSERVE_MS) at[`closed_at_${t / 1000}s`] = closedNow();
    }
    const rssEnd = server.rssKiB();
    for (const a of attacks) a.socket.destroy();
    return {
      streams: CONNECTIONS * STREAMS,
      ...at,
      rss_before_mb: Math.round(rssBefore / 1024),
      rss_peak_mb: Math.round(peak / 1024),
      rss_end_mb: Math.round(rssEnd / 1024),
      rss_growth_peak_mb: Math.round((peak - rssBefore) / 1024),
    };
  } finally {
    server?.child.kill("SIGTERM");
    if (server) await server.exited;
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The internal port, from its "listening" log line. */
function internalPort(server: ServerProcess): number {
  for (const line of server.lines) {
    if (!line.includes('"listener":"internal"') || !line.includes('"msg":"listening"')) continue;
    return (JSON.parse(line) as { port: number }).port;
  }
  throw new Error("the internal port's listening line is missing");
}

const entry =
  args.entry !== undefined
    ? path.resolve(args.entry)
    : path.join((await buildServer({ outDir: path.join(PROJECT_ROOT, ".build", `stalled-streams-${process.pid}`) })).outDir, "server", "main.js");
console.log(`storage: ${process.env.TEST_DATABASE_URL ? "PostgreSQL (scratch schema)" : "embedded PGlite"}, in-process KV`);
console.log(`server: ${entry}; ${CONNECTIONS} connections × ${STREAMS} stalled streams to ${PATH} (${TARGET} port); observed ${OBSERVE_MS / 1000} s; ${RUNS} runs`);
const results: Array<Record<string, number>> = [];
for (let i = 0; i < RUNS; i++) {
  results.push(await run(entry));
  console.log(JSON.stringify(results.at(-1)));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`median of ${RUNS}: ${JSON.stringify(Object.fromEntries(Object.keys(results[0]!).map((k) => [k, median(results.map((r) => r[k]!))])))}`);
if (args.entry === undefined) rmSync(path.dirname(path.dirname(entry)), { recursive: true, force: true });
