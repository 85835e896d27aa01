// A stand-in Ed25519 verification thread for tests/unit/ed25519-thread-verifier.test.ts: behaves like
// the real one (it runs the real batch code) except that a batch holding a message that starts with
// "crash-me" makes it exit, so the verifier's replacement logic can be observed. Not a test file.
import { parentPort } from "node:worker_threads";
import { createKeyCache, verifyPackedBatch } from "../../server/tokens/ed25519-batch.mjs";

const keyOf = createKeyCache();

parentPort.on("message", (packed) => {
  if (Buffer.from(packed).includes("crash-me")) process.exit(3);
  const results = verifyPackedBatch(packed, keyOf);
  parentPort.postMessage(results, [results.buffer]);
});
