/**
 * The V8 heap's shape for a server process, chosen for a short latency tail under steady load
 * (measurements and the trade-offs: docs/architecture.md, "Why some things are as they are"):
 *  - `--heap-growing-percent=50`: the next full collection comes when the heap is 1.5× what the last
 *    one left, so V8 does not let it swing up to 4× on a machine with memory to spare; set at run
 *    time by `boundHeapGrowth()` from the process's entry point.
 *  - `--max-semi-space-size=8` (MB): half the default young generation; request-scoped garbage dies
 *    young either way, and RSS is lower.
 *  - `--no-allocation-site-pretenuring`: after a burst of load V8 would keep allocating the per-call
 *    objects of grpc-js and Node's HTTP/2 in the old generation, promoting every later call's graph.
 * The last two size isolates when they start, so they go on the command line: `SERVER_NODE_OPTIONS`,
 * which `npm start` (package.json) and the scripts that start a server process pass.
 */
import { setFlagsFromString } from "node:v8";

export const HEAP_GROWING_PERCENT = 50;

/** Node options for a server process's command line (package.json's `start` repeats them). */
export const SERVER_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=8", "--no-allocation-site-pretenuring"];

export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
