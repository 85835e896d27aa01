/**
 * Load for fault tests: every session verified in a loop (each round all at once) until stopped,
 * counting the outcome codes ("OK", "Unavailable", …) of every call.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Clients, Tokens } from "../../../bench/support/cypher-user.js";

export const codeOf = (e: unknown) => (e === undefined ? "OK" : Code[ConnectError.from(e).code]);

export function verifyUnderLoad(c: Clients, sessions: Tokens[]): { outcomes: Map<string, number>; stop(): Promise<void> } {
  const outcomes = new Map<string, number>();
  let running = true;
  const done = (async () => {
    while (running) {
      await Promise.all(
        sessions.map(async (s) => {
          const e = await c.session.verifySession({ accessToken: s.accessToken }).then(() => undefined, (err: unknown) => err);
          outcomes.set(codeOf(e), (outcomes.get(codeOf(e)) ?? 0) + 1);
        }),
      );
    }
  })();
  return {
    outcomes,
    stop: async () => {
      running = false;
      await done;
    },
  };
}
