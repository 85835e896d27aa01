/**
 * The main thread's garbage-collection pauses, for the bench's side channel: the server and the
 * bare baselines both report them, so a phase's latency tail can be read beside the pauses that
 * caused it. Node reports each pause as a performance entry: the observer costs one entry per
 * collection (a few dozen a second at most under the bench's load), not one per call.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";

export interface GcTotals {
  /** Full (mark-compact) collections: their final, stop-the-world pause. */
  fullCount: number;
  /** Young-generation collections (scavenges). */
  youngCount: number;
  /** Every main-thread pause (full, young, incremental marking steps, weak callbacks), summed. */
  pauseMs: number;
  /** The longest single pause since the last `totals(true)`. */
  longestMs: number;
}

export function watchGcPauses(): { totals(resetLongest: boolean): GcTotals } {
  const totals: GcTotals = { fullCount: 0, youngCount: 0, pauseMs: 0, longestMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) totals.fullCount++;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) totals.youngCount++;
      totals.pauseMs += entry.duration;
      totals.longestMs = Math.max(totals.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ["gc"] });
  return {
    totals(resetLongest) {
      const copy = { ...totals };
      if (resetLongest) totals.longestMs = 0;
      return copy;
    },
  };
}
