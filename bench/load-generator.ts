/**
 * The load-generating process of `npm run bench` (forked by bench/run.ts, driven over IPC), so that
 * the server's measurements hold nothing but the server's own work.
 *
 *  - "prepare": builds the gRPC request frames of a phase: fixed tokens (hot) or freshly minted,
 *    all-distinct ones (cold), or an empty message (no-op).
 *  - "load": a closed loop of unary gRPC calls over HTTP/2 (bench/h2-connection.ts: frames written
 *    straight to the socket, gRPC framing by hand), `connections` × `streams` calls in flight, each
 *    answered call replaced at once by the next. Only calls that complete inside the measuring
 *    window count; a call without a response message (an error status, a reset) is an error.
 *  - "register" / "login": the full user journey through the real OPAQUE client (bench/login-flow.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "../gen/cypher/auth/v1/auth_pb.js";
import { SessionService, VerifySessionRequestSchema } from "../gen/cypher/session/v1/session_pb.js";
import { AccessTokenMinter, type SessionClaims } from "./access-token-minter.js";
import { H2Connection, headerBlocks } from "./h2-connection.js";
import { logIn, registerAccount, type Account, type Clients, type LoggedIn } from "./login-flow.js";
import { usageReporter } from "./usage-report.js";

export type PrepareRequest =
  | { kind: "empty" }
  | { kind: "tokens"; tokens: string[] }
  | { kind: "mint"; signingKey: string; sessions: SessionClaims[]; count: number };

export interface LoadRequest {
  port: number;
  path: string;
  frames: string;
  /** Each frame used once (cold tokens): the phase ends early if they run out. */
  distinct: boolean;
  connections: number;
  streams: number;
  warmupMs: number;
  durationMs: number;
  /**
   * Open loop: send this many calls per second whatever the answers (spread over the connections),
   * instead of the closed loop of connections × streams. Latency then includes queueing only as
   * far as the server falls behind.
   */
  rps?: number;
}

export interface LoadResult {
  count: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** The distinct frames ran out before the window ended. */
  exhausted: boolean;
}

export type Command =
  | { type: "prepare"; id: number; name: string; request: PrepareRequest }
  | { type: "load"; id: number; request: LoadRequest }
  | { type: "register"; id: number; publicPort: number; count: number; prefix: string; concurrency: number }
  | { type: "login"; id: number; publicPort: number; accounts: Account[]; concurrency: number }
  | { type: "exit" };

const framesByName = new Map<string, Buffer[]>();

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function prepare(request: PrepareRequest): Buffer[] {
  const verify = (accessToken: string) => frame(toBinary(VerifySessionRequestSchema, create(VerifySessionRequestSchema, { accessToken })));
  switch (request.kind) {
    case "empty":
      return [frame(new Uint8Array(0))];
    case "tokens":
      return request.tokens.map(verify);
    case "mint": {
      const minter = new AccessTokenMinter(request.signingKey);
      return Array.from({ length: request.count }, (_, i) => verify(minter.mint(request.sessions[i % request.sessions.length]!)));
    }
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function load(request: LoadRequest): Promise<LoadResult> {
  const frames = framesByName.get(request.frames);
  if (!frames) throw new Error(`no frames named ${request.frames}`);
  const connections = await Promise.all(Array.from({ length: request.connections }, () => H2Connection.connect(request.port)));
  const block = headerBlocks([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", request.path],
    [":authority", `127.0.0.1:${request.port}`],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
  const startedMs = performance.now();
  const windowStartMs = startedMs + request.warmupMs;
  const windowEndMs = windowStartMs + request.durationMs;
  const latencies: number[] = [];
  let count = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  /** Counts a failed call; its reason is kept if it is one of the first three different ones. */
  const noteError = (failure = "no response message") => {
    errors++;
    if (errorSamples.length < 3 && !errorSamples.includes(failure)) errorSamples.push(failure);
  };
  let next = 0;
  let exhausted = false;
  let lastCompletionMs = windowStartMs;

  /** Sends `rps` calls per second (credit-based, so timer jitter does not lower the rate). */
  const paced = (rps: number) =>
    new Promise<void>((resolve) => {
      let sent = 0;
      let inFlight = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        if (now >= windowEndMs) {
          clearInterval(timer);
          const wait = setInterval(() => {
            if (inFlight === 0) {
              clearInterval(wait);
              resolve();
            }
          }, 5);
          return;
        }
        const due = Math.floor(((now - startedMs) / 1000) * rps);
        for (; sent < due; sent++) {
          const connection = connections[sent % connections.length]!;
          const body = frames[sent % frames.length]!;
          const sentMs = performance.now();
          inFlight++;
          connection.request(block, body, (ok, failure) => {
            inFlight--;
            const doneMs = performance.now();
            if (sentMs >= windowStartMs && sentMs < windowEndMs) {
              count++;
              latencies.push(doneMs - sentMs);
              if (!ok) noteError(failure);
            }
          });
        }
      }, 1);
    });

  const slot = (connection: H2Connection) =>
    new Promise<void>((resolve) => {
      const send = () => {
        const sentMs = performance.now();
        if (sentMs >= windowEndMs) return resolve();
        let body: Buffer;
        if (request.distinct) {
          if (next >= frames.length) {
            exhausted = true;
            return resolve();
          }
          body = frames[next++]!;
        } else {
          body = frames[next++ % frames.length]!;
        }
        connection.request(block, body, (ok, failure) => {
          const doneMs = performance.now();
          if (sentMs >= windowStartMs && doneMs <= windowEndMs) {
            count++;
            latencies.push(doneMs - sentMs);
            lastCompletionMs = doneMs;
            if (!ok) noteError(failure);
          }
          send();
        });
      };
      send();
    });

  if (request.rps !== undefined) await paced(request.rps);
  else await Promise.all(connections.flatMap((connection) => Array.from({ length: request.streams }, () => slot(connection))));
  for (const connection of connections) connection.close();
  const elapsedMs = exhausted ? Math.max(1, lastCompletionMs - windowStartMs) : request.durationMs;
  const sorted = Float64Array.from(latencies).sort();
  return {
    count,
    errors,
    errorSamples,
    elapsedMs,
    rps: (count / elapsedMs) * 1000,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    exhausted,
  };
}

function clients(publicPort: number): Clients {
  const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${publicPort}`, httpVersion: "2" });
  return { auth: createClient(AuthService, transport), session: createClient(SessionService, transport) };
}

/** Runs `work` for each item with at most `concurrency` at once. */
async function pool<T, R>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let nextIndex = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
      while (nextIndex < items.length) {
        const i = nextIndex++;
        results[i] = await work(items[i]!, i);
      }
    }),
  );
  return results;
}

async function handle(command: Command): Promise<unknown> {
  switch (command.type) {
    case "prepare":
      framesByName.set(command.name, prepare(command.request));
      return { frames: framesByName.get(command.name)!.length };
    case "load":
      return load(command.request);
    case "register": {
      const c = clients(command.publicPort);
      const names = Array.from({ length: command.count }, (_, i) => `${command.prefix}-${i}`);
      return pool(names, command.concurrency, (username) => registerAccount(c, username, `bench password ${username}`));
    }
    case "login": {
      const c = clients(command.publicPort);
      const latenciesMs: number[] = [];
      const startedMs = performance.now();
      const sessions = await pool<Account, LoggedIn>(command.accounts, command.concurrency, async (account) => {
        const t = performance.now();
        const loggedIn = await logIn(c, account);
        latenciesMs.push(performance.now() - t);
        return loggedIn;
      });
      return { sessions, latenciesMs, elapsedMs: performance.now() - startedMs };
    }
    case "exit":
      process.exit(0);
  }
}

const usage = usageReporter();

process.on("message", (command: Command | { type: "usage"; resetLongestPause?: boolean }) => {
  if (command.type === "usage") {
    // The same side channel as the servers': is the load generator itself the bottleneck, and do
    // its own GC pauses stretch the latencies it measures?
    process.send!({ type: "usage", ...usage(command.resetLongestPause === true) });
    return;
  }
  handle(command).then(
    (result) => process.send!({ type: "done", id: "id" in command ? command.id : 0, result }),
    (error: unknown) => process.send!({ type: "failed", id: "id" in command ? command.id : 0, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
  );
});
process.send!({ type: "ready" });
