// Entry point of an Ed25519 verification thread (see ed25519-thread-verifier.ts). Plain JavaScript
// so Node loads it as is under tsx, vitest and plain node.
//
//   in:  a packed batch (ed25519-batch.mjs), its buffer transferred
//   out: one byte per item, 1 = valid, its buffer transferred; batches are answered in order.
// Only public keys, signatures and signed messages cross: nothing here is secret.
import { parentPort, workerData } from "node:worker_threads";
import { lowerThisThreadPriority } from "../worker-priority.mjs";
import { createKeyCache, verifyPackedBatch } from "./ed25519-batch.mjs";

// The event-loop thread, which every call needs, gets a core first when both want one.
lowerThisThreadPriority(workerData.niceness);

const keyOf = createKeyCache();

parentPort.on("message", (packed) => {
  const results = verifyPackedBatch(packed, keyOf);
  parentPort.postMessage(results, [results.buffer]);
});
