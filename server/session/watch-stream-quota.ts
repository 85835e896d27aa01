/**
 * How many WatchRevocations streams one account and one client address may hold open at once on
 * this instance. A stream holds a connection, a file descriptor and a feed listener for as long as
 * the client likes, so without a cap a handful of clients could hold them all. Counted in memory:
 * the streams live in this process, and so do the resources they hold.
 */
import { resourceExhausted } from "../errors.js";

/** What a refused client is told to wait before trying again: long enough for a stream to end. */
const RETRY_AFTER_MS = 5_000;

export interface WatchStreamLimits {
  maxStreamsPerAccount: number;
  maxStreamsPerIp: number;
}

export class WatchStreamQuota {
  readonly #limits: WatchStreamLimits;
  readonly #perAccount = new Map<string, number>();
  readonly #perNetwork = new Map<string, number>();

  constructor(limits: WatchStreamLimits) {
    this.#limits = limits;
  }

  /**
   * Takes a slot for a stream of `userId` from `network` (clientNetwork() of its address);
   * ResourceExhausted when either is at its cap. Call the returned function once, when the stream ends.
   */
  acquire(userId: string, network: string): () => void {
    if ((this.#perAccount.get(userId) ?? 0) >= this.#limits.maxStreamsPerAccount || (this.#perNetwork.get(network) ?? 0) >= this.#limits.maxStreamsPerIp) {
      throw resourceExhausted(RETRY_AFTER_MS, "too many open revocation streams, try again later");
    }
    increment(this.#perAccount, userId, 1);
    increment(this.#perNetwork, network, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      increment(this.#perAccount, userId, -1);
      increment(this.#perNetwork, network, -1);
    };
  }
}

function increment(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
