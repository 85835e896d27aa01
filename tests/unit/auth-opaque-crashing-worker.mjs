// A stand-in OPAQUE worker for tests/unit/auth-opaque-worker-pool.test.ts: behaves like the real one
// (it runs the real operations) except for two usernames, which make it crash or hang, so the pool's
// replacement logic can be observed. Not a test file itself (vitest only runs *.test.ts).
import { parentPort, workerData } from "node:worker_threads";
import { createOpaqueOperations } from "../../server/auth/opaque/opaque-operations.mjs";

const operations = createOpaqueOperations(workerData.keys);

parentPort.on("message", async (message) => {
  if (message.username === "crash-me") process.exit(3);
  if (message.username === "hang-me") {
    for (;;) {
      // Busy forever: only terminate() gets this thread back.
    }
  }
  try {
    const result =
      message.op === "registerInit"
        ? await operations.registerInit(message.username, message.request)
        : await operations.authInit(message.username, message.ke1, message.record);
    parentPort.postMessage({ id: message.id, ok: true, result });
  } catch (error) {
    parentPort.postMessage({ id: message.id, ok: false, message: String(error) });
  }
});

parentPort.postMessage({ type: "ready" });
