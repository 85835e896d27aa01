/**
 * Login tokens (from AuthService.LoginFinish) are single use, and burnt after too many wrong second
 * factors. PASETO tokens are stateless, so the state lives in the KV store, keyed by the token's jti:
 *   `login-token:{<jti>}`           claimed (SET NX) for the duration of one CreateSession attempt;
 *                                   kept once a session was created (spent) or the token is burnt;
 *   `login-token-failures:{<jti>}`  wrong codes so far (a counter that expires with the token).
 * The jti is the hash tag: on Redis Cluster a token's two keys share a slot, tokens spread over all.
 * Claiming before the second factor is checked makes parallel CreateSession calls with one token
 * yield exactly one session: the others find the claim taken and are refused, even with a
 * different valid recovery code each. A call that arrives while another attempt is in flight is
 * refused too (TOKEN_INVALID); a human typing one code at a time never sees that.
 */
import type { Clock } from "../clock.js";
import { unauthenticated } from "../errors.js";
import type { KeyValueStore } from "../storage/kv/key-value-store.js";

/** Keys outlive the token by this much, so expiry is always decided by the token, never by a lost key. */
const KEY_MARGIN_MS = 5_000;

export interface LoginTokenClaim {
  /** Counts a wrong second factor; releases the claim for another attempt unless that burnt the token. */
  failed(): Promise<{ burnt: boolean; failures: number }>;
  /** Gives the token back untouched (the attempt failed for a reason that is not the user's). */
  release(): Promise<void>;
}

export class LoginTokenGate {
  readonly #kv: KeyValueStore;
  readonly #clock: Clock;
  readonly #maxFailures: number;

  constructor(options: { kv: KeyValueStore; clock: Clock; maxFailures: number }) {
    this.#kv = options.kv;
    this.#clock = options.clock;
    this.#maxFailures = options.maxFailures;
  }

  /** Claims the token with this jti for one attempt; TOKEN_INVALID if spent, burnt or in use. */
  async claim(jti: string, tokenExpiresAt: Date): Promise<LoginTokenClaim> {
    const ttlMs = tokenExpiresAt.getTime() - this.#clock.now().getTime() + KEY_MARGIN_MS;
    const claimKey = `login-token:{${jti}}`;
    const claimed = await this.#kv.set(claimKey, "claimed", ttlMs, { onlyIfAbsent: true });
    if (!claimed) throw unauthenticated("TOKEN_INVALID");
    return {
      failed: async () => {
        const { count } = await this.#kv.increment(`login-token-failures:{${jti}}`, ttlMs);
        const burnt = count >= this.#maxFailures;
        // A burnt token keeps its claim until it expires: every later attempt is refused.
        if (!burnt) await this.#kv.del(claimKey);
        return { burnt, failures: count };
      },
      release: async () => {
        await this.#kv.del(claimKey);
      },
    };
  }
}
