/**
 * SEAM: the per-account cap on wrong second factors. Reauthenticate and ReplaceTotpFinish ask
 * `check` before testing a code (it throws ResourceExhausted once the account is over the cap) and
 * report every wrong code with `recordFailure`, so step-up cannot be used to guess codes beyond
 * what logins may. The cap itself (a KV counter) lives with the login limits; until it is wired in
 * (account-module.ts, option `secondFactorFailures`), the default counts nothing.
 */
export interface SecondFactorFailures {
  /** Throws ResourceExhausted (with a retry delay) while the account may not try another code. */
  check(userId: string): Promise<void>;
  /** Counts one wrong code against the account. */
  recordFailure(userId: string): Promise<void>;
}

export const noSecondFactorFailureCap: SecondFactorFailures = {
  check: async () => {},
  recordFailure: async () => {},
};
