/**
 * The V8 heap's shape for a server process: a smaller young generation, and a bound on how far the
 * old generation may grow between full collections.
 *
 * Why. With V8's defaults a Cypher process under steady mixed load kept a live heap of ~60 MB but
 * let it swing to 230 MB between full collections: V8 picks the growth factor from how fast it
 * collects versus how fast the program allocates, up to 4×, and takes the top of that range on a
 * machine with memory to spare. RSS drifted from 250 MB to 450 MB over ten minutes with no leak
 * (bench/soak.ts), and the verify benchmark peaked near 500 MB (bench/run.ts).
 *  - `--heap-growing-percent=50`: the next full collection comes when the heap is 1.5× what the
 *    last one left. There are more of them, each on a smaller heap: in three paired runs at 3,000
 *    VerifySession calls/s, V8 reported about one incremental-marking pause a second against one
 *    every three or four seconds without the bound, the longest 14-34 ms against 38-40 ms, and the
 *    median p99 was 49 ms against 87 ms. Set at run time, by `boundHeapGrowth()`, from the
 *    process's entry point.
 *  - `--max-semi-space-size=8` (MB): half the default young generation. Request-scoped garbage dies
 *    young either way; the benchmark's throughput did not drop (the run-to-run noise was larger)
 *    and its RSS fell by ~50 MB. V8 sizes the young generation when the isolate starts, so this
 *    one must be on the command line: `SERVER_NODE_OPTIONS`, which `npm start` (package.json) and
 *    the scripts that start a server process pass.
 */
import { setFlagsFromString } from "node:v8";

export const HEAP_GROWING_PERCENT = 50;

/** Node options for a server process's command line (package.json's `start` repeats them). */
export const SERVER_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=8"];

export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
