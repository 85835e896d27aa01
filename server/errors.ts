/**
 * Domain errors. Domain code throws these (never ConnectError); `transport/error-mapping.ts` is the
 * one place that turns them into Connect codes and google.rpc details. Messages are safe to show to
 * a client: never a secret, a stack trace or an SQL fragment.
 */

/** Stable codes, one per row of the error table in docs/architecture.md. */
export type ErrorCode =
  | "invalid_argument"
  | "already_exists"
  | "unauthenticated"
  | "resource_exhausted"
  | "failed_precondition"
  | "not_found"
  | "unavailable";

/** One field that broke a rule (becomes a google.rpc.BadRequest.FieldViolation). */
export interface FieldViolation {
  field: string;
  description: string;
}

/** Why authentication failed (becomes google.rpc.ErrorInfo.reason); never shown in the message. */
export type AuthFailureReason =
  | "TOKEN_INVALID"
  | "TOKEN_EXPIRED"
  | "TOKEN_REVOKED"
  | "TOKEN_REUSED"
  | "LOGIN_FAILED"
  | "SECOND_FACTOR_INVALID"
  /** AdminService: no admin key, an unknown one, or none configured. */
  | "ADMIN_KEY_INVALID";

export interface ErrorDetails {
  violations?: FieldViolation[];
  reason?: string;
  retryAfterMs?: number;
}

export class CypherError extends Error {
  override readonly name = "CypherError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }
}

/** The one message every authentication failure carries, whatever its cause. */
export const AUTHENTICATION_FAILED_MESSAGE = "authentication failed";

export function invalidArgument(...violations: FieldViolation[]): CypherError {
  const first = violations[0];
  const message = first ? `invalid ${first.field}: ${first.description}` : "invalid request";
  return new CypherError("invalid_argument", message, { violations });
}

export function unauthenticated(reason: AuthFailureReason): CypherError {
  return new CypherError("unauthenticated", AUTHENTICATION_FAILED_MESSAGE, { reason });
}

export function resourceExhausted(retryAfterMs: number, message = "too many attempts, try again later"): CypherError {
  return new CypherError("resource_exhausted", message, { retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)) });
}

export function alreadyExists(message: string): CypherError {
  return new CypherError("already_exists", message);
}

export function failedPrecondition(message: string): CypherError {
  return new CypherError("failed_precondition", message);
}

export function notFound(message: string): CypherError {
  return new CypherError("not_found", message);
}

export function unavailable(message = "a storage backend is unavailable, try again shortly"): CypherError {
  return new CypherError("unavailable", message);
}
