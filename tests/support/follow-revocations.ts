/**
 * Reads a WatchRevocations stream in the background, as a backend would, until stopped.
 */
import type { Client } from "@connectrpc/connect";
import type { SessionService, WatchRevocationsResponse } from "../../gen/cypher/session/v1/session_pb.js";

export function followRevocations(on: { client: Client<typeof SessionService> }, cursor = "", headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const received: WatchRevocationsResponse[] = [];
  const done = (async () => {
    try {
      for await (const r of on.client.watchRevocations({ cursor }, { signal: abort.signal, headers })) received.push(r);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return {
    received,
    /** Session ids in the order received (catch-up and live). */
    ids: () => received.flatMap((r) => r.sessionIds),
    caughtUp: () => received.some((r) => r.caughtUp),
    lastCursor: () => received.at(-1)?.cursor ?? "",
    stop: async () => {
      abort.abort();
      await done;
    },
    done,
  };
}
