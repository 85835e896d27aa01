/**
 * Ed25519 verification on dedicated worker threads, fed in batches at the end of each event-loop turn.
 *
 * Why threads of our own rather than libuv's pool: that pool is shared with file, DNS and zlib
 * work and sized once per process, and its threads compete with the event loop for the cores;
 * these have their own count (VERIFY_THREADS) and a lower priority, so the loop, which every call
 * needs, wins a contended core (measurements: docs/architecture.md).
 *
 * - Each call joins the current batch; the batch leaves at the end of the turn (setImmediate) for
 *   the thread with the least outstanding work. A thread answers its batches in order, so pending
 *   batches are a FIFO per thread.
 * - A thread that dies fails its outstanding calls with Unavailable (the client may retry; the
 *   token is not called invalid) and is replaced, after a pause if it died young.
 */
import { Worker } from "node:worker_threads";
import { unavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import { startAllOrNone, WorkerRestarts } from "../worker-supervision.js";
import { packBatch, type VerifyItem } from "./ed25519-batch.mjs";
import type { Ed25519Verifier } from "./ed25519-verifier.js";

export const ED25519_WORKER_URL = new URL("./ed25519-verify-worker.mjs", import.meta.url);

export interface Ed25519ThreadVerifierOptions {
  threads: number;
  logger: Logger;
  /** Nice value of the threads (Linux), default 10: the event loop wins a contended core. */
  niceness?: number;
  /** The worker entry; tests substitute one that misbehaves. */
  workerUrl?: URL;
}

interface Pending {
  item: VerifyItem;
  resolve: (valid: boolean) => void;
  reject: (error: unknown) => void;
}

interface Thread {
  worker: Worker;
  /** Batches sent and not yet answered, oldest first. */
  inFlight: Pending[][];
  outstanding: number;
  startedAtMs: number;
  retired: boolean;
}

/**
 * Items per message: a whole turn's worth in one message leaves the loop and the thread taking
 * turns; slices let the loop answer the first while the thread checks the rest.
 */
const MAX_BATCH = 32;
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

export class Ed25519ThreadVerifier implements Ed25519Verifier {
  readonly #options: Required<Ed25519ThreadVerifierOptions>;
  readonly #threads = new Set<Thread>();
  #batch: Pending[] = [];
  #flushScheduled = false;
  #closed = false;
  readonly #restarts = new WorkerRestarts();

  private constructor(options: Ed25519ThreadVerifierOptions) {
    if (!(Number.isInteger(options.threads) && options.threads >= 1)) throw new TypeError("threads must be a whole number ≥ 1");
    this.#options = { niceness: 10, workerUrl: ED25519_WORKER_URL, ...options };
  }

  /** Starts every thread and waits until each is running. */
  static async start(options: Ed25519ThreadVerifierOptions): Promise<Ed25519ThreadVerifier> {
    const verifier = new Ed25519ThreadVerifier(options);
    await startAllOrNone(options.threads, () => verifier.#spawn(), () => verifier.close());
    return verifier;
  }

  verify(publicKey: Buffer, message: Buffer, signature: Buffer): Promise<boolean> {
    if (this.#closed) return Promise.reject(unavailable("the server is shutting down"));
    // Refused here, alone: in a batch it would make packBatch refuse every call beside it.
    if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      this.#batch.push({ item: { publicKey, message, signature }, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#restarts.stop();
    const stopped = unavailable("the server is shutting down");
    for (const pending of this.#batch.splice(0)) pending.reject(stopped);
    const threads = [...this.#threads];
    this.#threads.clear();
    await Promise.all(threads.map((thread) => this.#retire(thread, stopped).terminate()));
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#batch;
    this.#batch = [];
    for (let start = 0; start < batch.length; start += MAX_BATCH) this.#send(batch.slice(start, start + MAX_BATCH));
  }

  #send(batch: Pending[]): void {
    let target: Thread | undefined;
    for (const thread of this.#threads) if (!target || thread.outstanding < target.outstanding) target = thread;
    if (!target) {
      // Every thread died at once and none has been replaced yet.
      const down = unavailable("the server could not complete the operation, try again");
      for (const pending of batch) pending.reject(down);
      return;
    }
    let packed: Buffer<ArrayBuffer>;
    try {
      packed = packBatch(batch.map((pending) => pending.item));
    } catch (error) {
      // Unreachable (verify() refuses wrong sizes), but never an exception out of a timer callback.
      for (const pending of batch) pending.reject(error);
      return;
    }
    target.inFlight.push(batch);
    target.outstanding += batch.length;
    target.worker.postMessage(packed, [packed.buffer]);
  }

  #spawn(): Promise<void> {
    // execArgv: [] so the thread does not load tsx's hooks (it runs plain .mjs).
    const worker = new Worker(this.#options.workerUrl, { execArgv: [], workerData: { niceness: this.#options.niceness } });
    // Verification threads alone must not keep a process alive.
    worker.unref();
    const thread: Thread = { worker, inFlight: [], outstanding: 0, startedAtMs: Date.now(), retired: false };
    this.#threads.add(thread);
    worker.on("message", (results: Uint8Array) => {
      const batch = thread.inFlight.shift();
      if (!batch || thread.retired) return;
      thread.outstanding -= batch.length;
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i] === 1);
    });
    worker.on("error", (error) => {
      if (!thread.retired) this.#options.logger.error("Ed25519 verification thread failed", { error });
    });
    worker.on("exit", (code) => {
      if (thread.retired) return;
      this.#threads.delete(thread);
      this.#retire(thread, unavailable("the server could not complete the operation, try again"));
      if (this.#closed) return;
      this.#options.logger.warn("Ed25519 verification thread replaced", { reason: `exited with code ${code}` });
      // A failed start shows up as an exit, which schedules the next attempt.
      this.#restarts.schedule(thread.startedAtMs, () => void this.#spawn().catch(() => {}));
    });
    return new Promise((resolve, reject) => {
      worker.once("online", () => resolve());
      worker.once("exit", (code) => reject(new Error(`Ed25519 verification thread exited with code ${code} before it started`)));
    });
  }

  /** Marks a thread given up and fails what it still owed. */
  #retire(thread: Thread, error: unknown): Worker {
    thread.retired = true;
    for (const batch of thread.inFlight.splice(0)) for (const pending of batch) pending.reject(error);
    thread.outstanding = 0;
    return thread.worker;
  }
}
