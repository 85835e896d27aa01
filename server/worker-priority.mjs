// Lowers the scheduling priority of the calling thread (a worker thread), so that when workers keep
// every core busy the event-loop thread, which every call needs, still gets a core the moment it has
// work. Linux gives each thread its own nice value, and /proc/thread-self names this thread's id.
// Elsewhere, or if refused, the thread keeps the normal priority. Plain JavaScript: worker threads
// run without tsx.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

export function lowerThisThreadPriority(niceness) {
  if (!(niceness > 0)) return;
  try {
    const threadId = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(threadId) && threadId > 0) setPriority(threadId, niceness);
  } catch {
    // Not Linux, or not allowed: no harm done.
  }
}
