// Entry point of an Ed25519 verification thread (see ed25519-thread-verifier.ts). Plain JavaScript
// so Node loads it as is under tsx, vitest and plain node.
//
//   in:  a packed batch (ed25519-batch.mjs), its buffer transferred
//   out: one byte per item, 1 = valid, its buffer transferred; batches are answered in order.
// Only public keys, signatures and signed messages cross: nothing here is secret.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { createKeyCache, verifyPackedBatch } from "./ed25519-batch.mjs";

// As the OPAQUE workers do (opaque-worker.mjs): a lower scheduling priority for this thread, so
// that the event-loop thread, which every call needs, gets a core first when both want one.
if (workerData.niceness > 0) {
  try {
    const threadId = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(threadId) && threadId > 0) setPriority(threadId, workerData.niceness);
  } catch {
    // Not Linux, or not allowed: the thread keeps the normal priority.
  }
}

const keyOf = createKeyCache();

parentPort.on("message", (packed) => {
  const results = verifyPackedBatch(packed, keyOf);
  parentPort.postMessage(results, [results.buffer]);
});
