/**
 * Runs several input checks and reports every broken rule at once (one InvalidArgument carrying a
 * BadRequest violation per field), so a client fixes its request in one round trip.
 */
import { CypherError, invalidArgument, type FieldViolation } from "../errors.js";

export function validateAll<T extends unknown[]>(...checks: { [K in keyof T]: () => T[K] }): T {
  const violations: FieldViolation[] = [];
  const results: unknown[] = [];
  for (const check of checks) {
    try {
      results.push(check());
    } catch (error) {
      if (error instanceof CypherError && error.code === "invalid_argument") violations.push(...(error.details.violations ?? []));
      else throw error;
    }
  }
  if (violations.length > 0) throw invalidArgument(...violations);
  return results as T;
}
