import { getPriority } from "node:os";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

const HELPER = new URL("../../server/worker-priority.mjs", import.meta.url).href;

/** The nice value a fresh worker thread reports for itself after asking for `niceness`. */
function niceOfWorkerAsking(niceness: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { readlinkSync } = require("node:fs");
    const { getPriority } = require("node:os");
    import(workerData.helper).then(({ lowerThisThreadPriority }) => {
      lowerThisThreadPriority(workerData.niceness);
      parentPort.postMessage(getPriority(Number(readlinkSync("/proc/thread-self").split("/").pop())));
    });`;
  const worker = new Worker(code, { eval: true, execArgv: [], workerData: { helper: HELPER, niceness } });
  return new Promise((resolve, reject) => {
    worker.once("message", (nice: number) => void worker.terminate().then(() => resolve(nice)));
    worker.once("error", reject);
  });
}

describe.runIf(process.platform === "linux")("worker thread priority", () => {
  it("lowers only the calling worker thread, so the event loop keeps winning a contended core", async () => {
    const before = getPriority(process.pid);
    // setPriority sets an absolute nice value.
    expect(await niceOfWorkerAsking(10)).toBe(10);
    expect(await niceOfWorkerAsking(0)).toBe(before);
    // The event-loop thread (its id is the process id) is untouched.
    expect(getPriority(process.pid)).toBe(before);
  });
});
