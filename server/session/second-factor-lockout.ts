/**
 * The per-account cap on wrong second factors (TOTP and recovery codes alike), shared by every
 * instance through the KV store. A login token is burnt after a few wrong codes (login-token-gate.ts),
 * but whoever knows the password can fetch new login tokens; this count is keyed by the ACCOUNT,
 * so no new token, no successful LoginFinish and no other instance starts it afresh.
 *
 * Mechanism: before a code is checked, `reserve` atomically adds one to the account's counter in a
 * fixed window of `windowSeconds` (the window starts with the first attempt and is not extended).
 * Attempt number n is refused when n > maxFailures: ResourceExhausted with RetryInfo for the rest of
 * the window, whether the code would have been right or wrong. Reserving before checking means N
 * parallel attempts (on as many login tokens) get the numbers 1..N and only the first maxFailures
 * are checked at all.
 *
 * A correct code clears the count: only the owner (someone holding the second factor) can produce
 * one, and the owner's earlier typos should not carry over into the next login. The cost is that an
 * attacker who knows the password gets up to maxFailures fresh guesses after each of the owner's
 * successful logins (never more than maxFailures per window between two of them).
 * An attempt that ends for another reason (an error, an account that is no longer active) keeps its
 * reservation: it counts like a wrong code.
 *
 * Audit: `login.second_factor_locked_out`, once per lockout, when the attempt that fills the count
 * turns out wrong (the moment the lockout begins).
 *
 * Used by CreateSession; any later caller that checks a second factor (step-up reauthentication)
 * reserves through the same component so it shares the same count.
 */
import type { Clock } from "../clock.js";
import { resourceExhausted } from "../errors.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { KeyValueStore } from "../storage/kv/key-value-store.js";

const KEY_PREFIX = "auth:limit:second-factor:user:";

export interface SecondFactorLockoutSettings {
  maxFailures: number;
  windowSeconds: number;
}

/** Who is attempting, for the audit entry written when a lockout begins. */
export interface SecondFactorAttemptContext {
  userId: string;
  username: string | null;
  ip: string | null;
  userAgent: string | null;
}

/** One reserved attempt: report how it ended exactly once. */
export interface SecondFactorAttempt {
  /** The code was right: the account's count starts afresh. */
  succeeded(): Promise<void>;
  /** The code was wrong; `lockedOut` when this failure filled the count (audited here). */
  failed(): Promise<{ failures: number; lockedOut: boolean }>;
  /**
   * The call ended before the code was judged (an outage, an account locked meanwhile): the
   * attempt is taken back, so retries through an outage cannot lock the owner out.
   */
  abandoned(): Promise<void>;
}

export class SecondFactorLockout {
  readonly #kv: KeyValueStore;
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #settings: SecondFactorLockoutSettings;

  constructor(options: { kv: KeyValueStore; db: Db; clock: Clock; settings: SecondFactorLockoutSettings }) {
    this.#kv = options.kv;
    this.#db = options.db;
    this.#clock = options.clock;
    this.#settings = options.settings;
  }

  static key(userId: string): string {
    return KEY_PREFIX + userId;
  }

  /**
   * Counts one second-factor attempt for the account BEFORE its code is checked; throws
   * ResourceExhausted (RetryInfo: the rest of the window) when the account is locked out.
   */
  async reserve(attempt: SecondFactorAttemptContext): Promise<SecondFactorAttempt> {
    const { maxFailures, windowSeconds } = this.#settings;
    const key = SecondFactorLockout.key(attempt.userId);
    const { count, ttlMs } = await this.#kv.increment(key, windowSeconds * 1000);
    if (count > maxFailures) throw resourceExhausted(Math.max(1, ttlMs));
    return {
      succeeded: async () => {
        await this.#kv.del(key);
      },
      abandoned: async () => {
        await this.#kv.decrement(key);
      },
      failed: async () => {
        const lockedOut = count === maxFailures;
        if (lockedOut) {
          await recordAudit(this.#db, {
            at: this.#clock.now(),
            event: "login.second_factor_locked_out",
            userId: attempt.userId,
            username: attempt.username,
            ip: attempt.ip,
            userAgent: attempt.userAgent,
            details: { failures: count, retry_after_seconds: Math.ceil(ttlMs / 1000) },
          });
        }
        return { failures: count, lockedOut };
      },
    };
  }
}
