/**
 * The V8 heap's shape for a server process: a smaller young generation, no allocation-site
 * pretenuring, and a bound on how far the old generation may grow between full collections.
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
 *  - `--no-allocation-site-pretenuring`: V8 watches which allocation sites' objects survive young
 *    collections and, past a threshold, allocates theirs straight in the old generation. A burst
 *    of load (200 calls in flight) trips that for the per-call objects of grpc-js and Node's
 *    HTTP/2, and the decision stays after the burst: every later call's young objects are then
 *    held by an old-generation parent that only a full collection frees, so they survive two young
 *    collections and are promoted as well. Paced at 1,600 calls/s after a 6 s burst, the server
 *    promoted 0.9-1.0 MB per young collection (its whole per-call graph, ~4 KB a call) in 4 runs
 *    of 4 (2 on Node 24), each young pause took 3.5-3.9 ms, and a full collection came every
 *    ~1.7 s; the bare grpc-js baseline did the same in 6 runs of 8. With this flag, 4 runs of 4
 *    (2 each) promoted 21-29 KB per young collection, paused 2.1-2.4 ms, and made at most one full
 *    collection in 9 s; the server's p99 was 6.4 and 12.5 ms against 13.4 and 17.2 ms (the 12.5 ms
 *    run held one 42 ms full collection). The cost, in three alternating pairs of whole bench runs
 *    on a noisy machine: server CPU per login was higher with the flag in each pair (191, 165 and
 *    180 ms against 164, 161 and 175: the OPAQUE workers share the process's V8 flags), RSS was
 *    210-229 MB against 201-214 MB, and throughput moved both ways. Logins are rare next to the
 *    verifications backends make on every request, whose tail this is about. Like the young
 *    generation's size it concerns every isolate from its start, so it goes on the command line.
 */
import { setFlagsFromString } from "node:v8";

export const HEAP_GROWING_PERCENT = 50;

/** Node options for a server process's command line (package.json's `start` repeats them). */
export const SERVER_NODE_OPTIONS: readonly string[] = ["--max-semi-space-size=8", "--no-allocation-site-pretenuring"];

export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
