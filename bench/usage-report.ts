/**
 * What the server, baseline and load-generator processes report over the bench's IPC side channel
 * when the driver asks ("usage"): CPU time of every thread, resident memory, the V8 heap in use,
 * and main-thread GC pauses (gc-pauses.ts). One definition for all three, so their figures compare.
 */
import { watchGcPauses, type GcTotals } from "./gc-pauses.js";

export interface Usage {
  cpuMicros: number;
  rssBytes: number;
  heapUsedBytes: number;
  gc: GcTotals;
}

/** Starts watching GC pauses; call it at start-up, and answer each "usage" request with what it returns. */
export function usageReporter(): (resetLongestPause: boolean) => Usage {
  const gc = watchGcPauses();
  return (resetLongestPause) => {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return { cpuMicros: cpu.user + cpu.system, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, gc: gc.totals(resetLongestPause) };
  };
}
