/**
 * A bounded pool of worker threads for the OPAQUE arithmetic, so the event loop keeps answering
 * other calls (VerifySession above all) while logins run.
 *
 * - `threads` workers, each running one call at a time (the work is synchronous CPU; two calls in
 *   one worker would only interleave, not go faster).
 * - At most `maxQueued` calls wait for a worker. Beyond that a call is refused at once with
 *   ResourceExhausted and a short retry hint, instead of letting latency grow without bound.
 * - Key material goes to each worker once, in workerData; messages carry only bytes and strings.
 * - Workers run at a lower scheduling priority (see opaque-worker.mjs), so a saturated pool does
 *   not take the CPU from the event loop.
 * - A worker that dies (or overruns `callTimeoutMs`) is replaced; the call it was running fails with
 *   Unavailable (the client may retry) and the queue carries on with the replacement.
 */
import { Worker } from "node:worker_threads";
import { resourceExhausted, unavailable } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { startAllOrNone, WorkerRestarts } from "../../worker-supervision.js";
import { type AuthInitResult, type OpaqueExecutor, opaqueInputRejected } from "./opaque-executor.js";
import type { OpaqueServerKeys } from "./opaque-operations.mjs";

export const OPAQUE_WORKER_URL = new URL("./opaque-worker.mjs", import.meta.url);

/**
 * What a client is told to wait when the queue is full. A LoginInit costs a few ms of CPU, so a full
 * queue of the default size (config.ts) drains in about a tenth of a second on a few threads: a
 * quarter of a second lets it drain without inviting clients back before it has.
 */
export const QUEUE_FULL_RETRY_MS = 250;

export interface OpaqueWorkerPoolOptions {
  threads: number;
  maxQueued: number;
  keys: OpaqueServerKeys;
  logger: Logger;
  /** A call running longer than this is presumed stuck: its worker is replaced. Default 30 s. */
  callTimeoutMs?: number;
  /** The worker entry; tests substitute one that misbehaves. */
  workerUrl?: URL;
  /**
   * Nice value for the worker threads (Linux), default 10: under full load the event loop wins the
   * CPU over OPAQUE arithmetic. 0 leaves them at normal priority.
   */
  niceness?: number;
}

type Request =
  | { op: "registerInit"; username: string; request: Uint8Array }
  | { op: "authInit"; username: string; ke1: Uint8Array; record: Uint8Array };

type Reply =
  | { type: "ready" }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; inputField?: string; message: string };

interface Call {
  id: number;
  request: Request;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  call: Call | null;
  timer: NodeJS.Timeout | null;
  startedAtMs: number;
  /** When the running call was handed to the worker (performance.now()), for the busy time. */
  callStartedMs: number;
  /** Set once the slot's worker has been given up (exit, timeout); late replies are ignored. */
  retired: boolean;
  /** The worker has loaded and said so; only ready workers take calls (start-up must not eat a call's time limit). */
  ready: boolean;
}

export class OpaqueWorkerPool implements OpaqueExecutor {
  readonly #options: Required<Omit<OpaqueWorkerPoolOptions, "workerUrl">> & { workerUrl: URL };
  readonly #slots = new Set<Slot>();
  readonly #queue: Call[] = [];
  #nextId = 1;
  #closed = false;
  readonly #restarts = new WorkerRestarts();
  /** Time workers spent on calls that have ended (those running add theirs in stats()). */
  #busyMs = 0;

  private constructor(options: OpaqueWorkerPoolOptions) {
    if (!(options.threads >= 1) || !(options.maxQueued >= 0)) throw new TypeError("threads must be ≥ 1 and maxQueued ≥ 0");
    this.#options = { callTimeoutMs: 30_000, workerUrl: OPAQUE_WORKER_URL, niceness: 10, ...options };
  }

  /** Starts every worker and waits until each has loaded the library and its keys. */
  static async start(options: OpaqueWorkerPoolOptions): Promise<OpaqueWorkerPool> {
    const pool = new OpaqueWorkerPool(options);
    await startAllOrNone(options.threads, () => pool.#spawn(), () => pool.close());
    return pool;
  }

  registerInit(username: string, request: Uint8Array): Promise<Uint8Array> {
    return this.#submit({ op: "registerInit", username, request }) as Promise<Uint8Array>;
  }

  authInit(username: string, ke1: Uint8Array, record: Uint8Array): Promise<AuthInitResult> {
    return this.#submit({ op: "authInit", username, ke1, record }) as Promise<AuthInitResult>;
  }

  hasCapacity(): boolean {
    return !this.#closed && (this.#idleSlot() !== undefined || this.#queue.length < this.#options.maxQueued);
  }

  /** For metrics and tests. `busySeconds`: time workers have spent running calls, ever. */
  stats(): { threads: number; busy: number; queued: number; busySeconds: number } {
    let busy = 0;
    let busyMs = this.#busyMs;
    const nowMs = performance.now();
    for (const slot of this.#slots) {
      if (!slot.call) continue;
      busy++;
      busyMs += nowMs - slot.callStartedMs;
    }
    return { threads: this.#slots.size, busy, queued: this.#queue.length, busySeconds: busyMs / 1000 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#restarts.stop();
    const stopped = unavailable("the server is shutting down");
    for (const call of this.#queue.splice(0)) call.reject(stopped);
    const slots = [...this.#slots];
    this.#slots.clear();
    await Promise.all(
      slots.map(async (slot) => {
        slot.retired = true;
        if (slot.timer) clearTimeout(slot.timer);
        slot.call?.reject(stopped);
        slot.call = null;
        await slot.worker.terminate();
      }),
    );
  }

  #submit(request: Request): Promise<unknown> {
    if (this.#closed) return Promise.reject(unavailable("the server is shutting down"));
    return new Promise((resolve, reject) => {
      const call: Call = { id: this.#nextId++, request, resolve, reject };
      const slot = this.#idleSlot();
      if (slot) {
        this.#run(slot, call);
      } else if (this.#queue.length < this.#options.maxQueued) {
        this.#queue.push(call);
      } else {
        reject(resourceExhausted(QUEUE_FULL_RETRY_MS, "the server is busy, try again shortly"));
      }
    });
  }

  #idleSlot(): Slot | undefined {
    for (const slot of this.#slots) if (slot.ready && !slot.call && !slot.retired) return slot;
    return undefined;
  }

  #run(slot: Slot, call: Call): void {
    slot.call = call;
    slot.callStartedMs = performance.now();
    slot.timer = setTimeout(() => this.#retire(slot, "a call overran its time limit"), this.#options.callTimeoutMs);
    slot.timer.unref();
    // Structured clone copies the (small) byte arrays; nothing else crosses.
    slot.worker.postMessage({ id: call.id, ...call.request });
  }

  #next(slot: Slot): void {
    const call = this.#queue.shift();
    if (call) this.#run(slot, call);
  }

  /** Starts one worker; resolves when it reports ready, rejects if it dies first. */
  #spawn(): Promise<void> {
    // execArgv: [] so the worker does not inherit `--import tsx` (it runs plain .mjs): inherited,
    // each worker would load tsx's module hooks again, ~25 MB of RSS per worker for nothing.
    const worker = new Worker(this.#options.workerUrl, { execArgv: [], workerData: { keys: this.#options.keys, niceness: this.#options.niceness } });
    const slot: Slot = { worker, call: null, timer: null, startedAtMs: Date.now(), callStartedMs: 0, retired: false, ready: false };
    this.#slots.add(slot);
    return new Promise<void>((resolveReady, rejectReady) => {
      let ready = false;
      worker.on("message", (reply: Reply) => {
        if (slot.retired) return;
        if ("type" in reply) {
          ready = true;
          slot.ready = true;
          resolveReady();
          // Calls may have queued while this worker (a replacement, say) was loading.
          if (!slot.call) this.#next(slot);
          return;
        }
        const call = slot.call;
        if (!call || call.id !== reply.id) return;
        if (slot.timer) clearTimeout(slot.timer);
        this.#busyMs += performance.now() - slot.callStartedMs;
        slot.call = null;
        slot.timer = null;
        if (reply.ok) call.resolve(reply.result);
        else if (reply.inputField) call.reject(opaqueInputRejected(reply.inputField));
        else call.reject(new Error(`OPAQUE worker: ${reply.message}`));
        this.#next(slot);
      });
      // An uncaught exception in the worker: 'exit' follows, which does the clean-up.
      worker.on("error", (error) => {
        if (!slot.retired) this.#options.logger.error("OPAQUE worker failed", { error });
      });
      worker.on("exit", (code) => {
        if (!ready) rejectReady(new Error(`OPAQUE worker exited with code ${code} before it was ready`));
        if (!slot.retired) this.#retire(slot, `exited with code ${code}`);
      });
    });
  }

  /** Gives up a worker: fails its call, drops it, and starts a replacement (after a pause if it died young). */
  #retire(slot: Slot, why: string): void {
    if (slot.retired) return;
    slot.retired = true;
    this.#slots.delete(slot);
    if (slot.timer) clearTimeout(slot.timer);
    if (slot.call) {
      this.#busyMs += performance.now() - slot.callStartedMs;
      slot.call.reject(unavailable("the server could not complete the operation, try again"));
    }
    slot.call = null;
    void slot.worker.terminate();
    if (this.#closed) return;
    this.#options.logger.warn("OPAQUE worker replaced", { reason: why });
    this.#restarts.schedule(slot.startedAtMs, () => {
      this.#spawn().then(
        () => {},
        () => {}, // its exit handler has already scheduled the next attempt
      );
      // The new worker takes queued calls right away; Node buffers messages until it listens.
      const fresh = this.#idleSlot();
      if (fresh) this.#next(fresh);
    });
  }
}
