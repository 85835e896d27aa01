/**
 * Whether a backend (PostgreSQL, the KV store) answers, and how fast: one ping per scrape, bounded
 * by a timeout. A ping still pending from an earlier scrape is not repeated: a backend that hangs
 * costs one outstanding ping, not one per scrape, and reads as down until it answers.
 */
export interface ProbeReading {
  up: boolean;
  /** How long the ping took; NaN when it failed, timed out or is still pending. */
  seconds: number;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;

export class StorageProbe {
  readonly #ping: () => Promise<unknown>;
  readonly #timeoutMs: number;
  #pending: Promise<ProbeReading> | undefined;

  /** `ping` resolves when the backend answered; rejecting or resolving `false` means down. */
  constructor(ping: () => Promise<unknown>, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS) {
    this.#ping = ping;
    this.#timeoutMs = timeoutMs;
  }

  read(): Promise<ProbeReading> {
    if (this.#pending !== undefined) return Promise.resolve({ up: false, seconds: Number.NaN });
    const startedMs = performance.now();
    const pending = (async () => {
      try {
        const answer = await this.#ping();
        return answer === false ? { up: false, seconds: Number.NaN } : { up: true, seconds: (performance.now() - startedMs) / 1000 };
      } catch {
        return { up: false, seconds: Number.NaN };
      }
    })();
    this.#pending = pending;
    void pending.finally(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ProbeReading>((resolve) => {
      timer = setTimeout(() => resolve({ up: false, seconds: Number.NaN }), this.#timeoutMs);
      timer.unref();
    });
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
  }
}
