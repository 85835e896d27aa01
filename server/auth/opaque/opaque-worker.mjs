// Entry point of an OPAQUE worker thread (see opaque-worker-pool.ts). Plain JavaScript so Node
// loads it as is under tsx, vitest and plain node.
//
// The key material arrives once, in workerData; messages carry only bytes and strings:
//   in:  { id, op: "registerInit", username, request } | { id, op: "authInit", username, ke1, record }
//   out: { type: "ready" } once, then per call { id, ok: true, result } | { id, ok: false, inputField?, message }
// The pool gives a worker one call at a time. Nothing is logged here: every value is secret or
// client-supplied, and errors travel back to the pool, which decides what to say.
import { parentPort, workerData } from "node:worker_threads";
import { lowerThisThreadPriority } from "../../worker-priority.mjs";
import { createOpaqueOperations, OpaqueInputError } from "./opaque-operations.mjs";

// Under full load the event loop wins the CPU over OPAQUE arithmetic: calls queue a little longer,
// everything else keeps answering.
lowerThisThreadPriority(workerData.niceness);

const operations = createOpaqueOperations(workerData.keys);

parentPort.on("message", async (message) => {
  const { id, op } = message;
  try {
    let result;
    if (op === "registerInit") {
      result = await operations.registerInit(message.username, message.request);
    } else if (op === "authInit") {
      result = await operations.authInit(message.username, message.ke1, message.record);
    } else {
      throw new Error(`unknown operation ${String(op)}`);
    }
    parentPort.postMessage({ id, ok: true, result });
  } catch (error) {
    parentPort.postMessage({
      id,
      ok: false,
      inputField: error instanceof OpaqueInputError ? error.field : undefined,
      message: error instanceof Error ? error.message : "non-Error thrown",
    });
  }
});

parentPort.postMessage({ type: "ready" });
