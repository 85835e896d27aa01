/**
 * The per-account cap on wrong second factors, as step-up sees it: Reauthenticate and
 * ReplaceTotpFinish reserve an attempt before testing a code and report how it ended, on the same
 * count as CreateSession, so step-up cannot be used to guess codes beyond what logins may.
 */
import type { SecondFactorAttempt, SecondFactorAttemptContext } from "../session/second-factor-lockout.js";

export interface SecondFactorFailures {
  /**
   * Counts one attempt for the account BEFORE its code is tested; throws ResourceExhausted (with a
   * retry delay) while the account may not try another code. The attempt is then reported as
   * failed (a wrong code), succeeded (the count starts afresh) or abandoned (no code was judged). SecondFactorLockout
   * (session/second-factor-lockout.ts) is the implementation; logins share its count.
   */
  reserve(attempt: SecondFactorAttemptContext): Promise<SecondFactorAttempt>;
}
