/**
 * Every failure the app can meet, as one sentence a person can act on. The server deliberately says
 * little (one generic message for every authentication failure); the sentence depends on which step
 * the person was taking, and on the machine-readable details the server attaches.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { FlowError } from "./flow-error.js";
import { WRONG_CREDENTIALS_MESSAGE } from "./login.js";

/** The step a person was taking when the failure happened. */
export type Step = "register" | "enroll" | "login" | "second-factor" | "session";

export const NETWORK_DOWN_MESSAGE = "Cannot reach Cypher. Check your connection and try again.";
export const SERVICE_UNAVAILABLE_MESSAGE = "Cypher is having trouble right now. Try again in a moment.";
export const EXPIRED_LOGIN_MESSAGE = "That sign-in took too long. Enter your password again.";
export const EXPIRED_ENROLLMENT_MESSAGE = "Your registration expired before it was confirmed. Please register again.";
export const WRONG_CODE_MESSAGE = "That code is not right. Check your authenticator app and try again.";
export const SESSION_ENDED_MESSAGE = "Your session has ended. Please log in again.";
export const USERNAME_TAKEN_MESSAGE = "That username is taken. Choose another one.";
const FALLBACK_MESSAGE = "Something went wrong. Please try again.";

/** ErrorInfo reasons that mean the step's token is no longer good (as opposed to a wrong code). */
/** ErrorInfo reasons that say a token (not a password or code) was refused. */
export const TOKEN_REASONS: ReadonlySet<string> = new Set(["TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REVOKED", "TOKEN_REUSED"]);

/** What the app should do besides showing the sentence. */
export type Recovery =
  /** Stay on the step and let the person correct the input. */
  | "retry"
  /** The step's token is gone: go back to the step's beginning (password, or registration). */
  | "restart"
  /** Nothing to correct: wait, then try again. */
  | "wait";

export interface DescribedError {
  message: string;
  recovery: Recovery;
  /** For ResourceExhausted: how long to wait before the next attempt. */
  retryAfterSeconds?: number;
}

export function describeError(err: unknown, step: Step): DescribedError {
  if (err instanceof FlowError) {
    return { message: err.message, recovery: err.kind === "protocol" ? "wait" : "retry" };
  }
  const ce = ConnectError.from(err);
  switch (ce.code) {
    case Code.Unauthenticated:
      return describeUnauthenticated(ce, step);
    case Code.ResourceExhausted: {
      const seconds = retryAfterSeconds(ce);
      return {
        message: seconds === undefined ? "Too many attempts. Please wait a while and try again." : `Too many attempts. Try again in ${formatWait(seconds)}.`,
        recovery: "wait",
        ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }),
      };
    }
    case Code.AlreadyExists:
      return { message: USERNAME_TAKEN_MESSAGE, recovery: "retry" };
    case Code.InvalidArgument:
      return { message: describeBadRequest(ce), recovery: "retry" };
    case Code.FailedPrecondition:
      return step === "enroll"
        ? { message: "This account is already set up. Log in instead.", recovery: "restart" }
        : { message: FALLBACK_MESSAGE, recovery: "restart" };
    case Code.Unavailable:
      return { message: isNetworkFailure(ce) ? NETWORK_DOWN_MESSAGE : SERVICE_UNAVAILABLE_MESSAGE, recovery: "wait" };
    case Code.DeadlineExceeded:
      return { message: "Cypher took too long to answer. Try again.", recovery: "wait" };
    case Code.Canceled:
      return { message: "The request was cancelled.", recovery: "retry" };
    default:
      return { message: isNetworkFailure(ce) ? NETWORK_DOWN_MESSAGE : FALLBACK_MESSAGE, recovery: "wait" };
  }
}

function describeUnauthenticated(ce: ConnectError, step: Step): DescribedError {
  const reason = ce.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
  switch (step) {
    case "login":
      return { message: WRONG_CREDENTIALS_MESSAGE, recovery: "retry" };
    case "register":
      return { message: FALLBACK_MESSAGE, recovery: "retry" };
    case "enroll":
      return TOKEN_REASONS.has(reason)
        ? { message: EXPIRED_ENROLLMENT_MESSAGE, recovery: "restart" }
        : { message: WRONG_CODE_MESSAGE, recovery: "retry" };
    case "second-factor":
      return TOKEN_REASONS.has(reason)
        ? { message: EXPIRED_LOGIN_MESSAGE, recovery: "restart" }
        : { message: "That code is not right. Try again, or use a recovery code.", recovery: "retry" };
    case "session":
      return { message: SESSION_ENDED_MESSAGE, recovery: "restart" };
  }
}

/** The wait from google.rpc.RetryInfo, rounded up to whole seconds. */
export function retryAfterSeconds(ce: ConnectError): number | undefined {
  const delay = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  if (!delay) return undefined;
  const ms = Number(delay.seconds) * 1000 + Math.ceil(delay.nanos / 1_000_000);
  return Math.max(1, Math.ceil(ms / 1000));
}

/** "42 s" for short waits, "15 min" beyond two minutes, "2 h" beyond two hours. */
export function formatWait(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.ceil(seconds / 3600)} h`;
}

function describeBadRequest(ce: ConnectError): string {
  const violation = ce.findDetails(BadRequestSchema)[0]?.fieldViolations[0];
  if (!violation) return "Please check what you entered and try again.";
  const field = violation.field.replace(/_/g, " ");
  const description = violation.description.replace(/\.$/, "");
  return `Please check the ${field}: ${description}.`;
}

/** fetch() rejects with a TypeError when the network is down; Connect wraps it as the cause. */
function isNetworkFailure(ce: ConnectError): boolean {
  if (ce.cause instanceof TypeError) return true;
  if (typeof navigator !== "undefined" && navigator.onLine === false) return true;
  return /failed to fetch|networkerror|load failed|network connection was lost/i.test(ce.rawMessage);
}
