/**
 * Sentences for the failures of the account changes. The server says "authentication failed" for
 * every refusal and puts the reason in ErrorInfo: here that reason, and the step the person was
 * taking, pick the sentence. Everything that is not an authentication failure (limits, outages,
 * malformed input) reads as on the other screens (`describeError`).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { describeError, TOKEN_REASONS, type DescribedError } from "./error-messages.js";
import { FlowError } from "./flow-error.js";

/** Which proof the failing call carried. */
export type AccountStep =
  /** The password and the code (LoginInit, LoginFinish, Reauthenticate). */
  | "step-up"
  /** A change made with the reauth token (ChangePassword*, ReplaceTotp*, Regenerate…, Delete…). */
  | "change";

export const WRONG_PASSWORD_MESSAGE = "That password is not right.";
export const WRONG_STEP_UP_CODE_MESSAGE = "That code is not right. Try again, or use a recovery code.";
export const WRONG_NEW_AUTHENTICATOR_CODE_MESSAGE = "That code is not right. Enter the code your new authenticator app shows now.";
export const STEP_UP_EXPIRED_MESSAGE = "Your confirmation has expired. Enter your password and a code again.";

export interface DescribedAccountError extends DescribedError {
  /**
   * The refused token may have been the session's own (ended on another device): the screen
   * checks the session before it asks for the password again.
   */
  sessionMayHaveEnded?: boolean;
  /** Which input to correct, for a "retry". */
  field?: "password" | "code";
}

export function describeAccountError(err: unknown, step: AccountStep): DescribedAccountError {
  if (err instanceof FlowError) {
    // The login inside the step-up reports a wrong password as "wrong username or password"; here
    // the username is the signed-in one, so only the password can be wrong.
    if (err.kind === "wrong-credentials") return { message: WRONG_PASSWORD_MESSAGE, recovery: "retry", field: "password" };
    return { ...describeError(err, "session"), ...(err.kind === "invalid-code" ? { field: "code" as const } : {}) };
  }
  const ce = ConnectError.from(err);
  if (ce.code !== Code.Unauthenticated) {
    const described = describeError(ce, "session");
    // FailedPrecondition here means a step-up began elsewhere has moved on: start it again.
    return ce.code === Code.FailedPrecondition ? { message: STEP_UP_EXPIRED_MESSAGE, recovery: "restart" } : described;
  }
  const reason = ce.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
  if (reason === "SECOND_FACTOR_INVALID") {
    return { message: step === "step-up" ? WRONG_STEP_UP_CODE_MESSAGE : WRONG_NEW_AUTHENTICATOR_CODE_MESSAGE, recovery: "retry", field: "code" };
  }
  // LoginFinish refuses a wrong proof without a token reason: the password was wrong.
  if (step === "step-up" && !TOKEN_REASONS.has(reason)) return { message: WRONG_PASSWORD_MESSAGE, recovery: "retry", field: "password" };
  return { message: STEP_UP_EXPIRED_MESSAGE, recovery: "restart", sessionMayHaveEnded: true };
}
