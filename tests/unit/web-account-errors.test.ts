/**
 * The sentences of the Security page's failures: which input to correct, when to ask for the
 * password and a code again, and how long to wait.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  describeAccountError,
  STEP_UP_EXPIRED_MESSAGE,
  WRONG_NEW_AUTHENTICATOR_CODE_MESSAGE,
  WRONG_PASSWORD_MESSAGE,
  WRONG_STEP_UP_CODE_MESSAGE,
} from "../../web/src/client/account-errors.js";
import { normalizeRecoveryCodeInput } from "../../web/src/client/recovery-code.js";
import { FlowError } from "../../web/src/client/flow-error.js";
import { WRONG_CREDENTIALS_MESSAGE } from "../../web/src/client/login.js";

function unauthenticated(reason: string): ConnectError {
  return new ConnectError("authentication failed", Code.Unauthenticated, undefined, [{ desc: ErrorInfoSchema, value: { reason, domain: "cypher.dev" } }]);
}

describe("describeAccountError", () => {
  it("blames the password, not the username, when the step-up's login fails", () => {
    expect(describeAccountError(new FlowError("wrong-credentials", WRONG_CREDENTIALS_MESSAGE), "step-up")).toEqual({ message: WRONG_PASSWORD_MESSAGE, recovery: "retry", field: "password" });
    expect(describeAccountError(unauthenticated("LOGIN_FAILED"), "step-up")).toEqual({ message: WRONG_PASSWORD_MESSAGE, recovery: "retry", field: "password" });
  });

  it("points at the code field for a wrong or malformed code, with the step's own sentence", () => {
    expect(describeAccountError(unauthenticated("SECOND_FACTOR_INVALID"), "step-up")).toEqual({ message: WRONG_STEP_UP_CODE_MESSAGE, recovery: "retry", field: "code" });
    expect(describeAccountError(unauthenticated("SECOND_FACTOR_INVALID"), "change")).toEqual({ message: WRONG_NEW_AUTHENTICATOR_CODE_MESSAGE, recovery: "retry", field: "code" });
    expect(describeAccountError(new FlowError("invalid-code", "Enter the 6-digit code from your authenticator app."), "step-up")).toMatchObject({ recovery: "retry", field: "code" });
  });

  it("asks for the password and a code again when a token was refused, and says the session may be over", () => {
    for (const reason of ["TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REVOKED", "TOKEN_REUSED"]) {
      expect(describeAccountError(unauthenticated(reason), "change")).toEqual({ message: STEP_UP_EXPIRED_MESSAGE, recovery: "restart", sessionMayHaveEnded: true });
      expect(describeAccountError(unauthenticated(reason), "step-up")).toMatchObject({ recovery: "restart", sessionMayHaveEnded: true });
    }
    expect(describeAccountError(new ConnectError("call ReplaceTotpInit first", Code.FailedPrecondition), "change")).toMatchObject({ message: STEP_UP_EXPIRED_MESSAGE, recovery: "restart" });
  });

  it("says how long to wait after too many attempts", () => {
    const limited = new ConnectError("too many attempts", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: { retryDelay: { seconds: 600n, nanos: 0 } } },
    ]);
    expect(describeAccountError(limited, "step-up")).toEqual({ message: "Too many attempts. Try again in 10 min.", recovery: "wait", retryAfterSeconds: 600 });
  });
});

describe("normalizeRecoveryCodeInput", () => {
  it("takes a code with or without dashes and refuses anything else before a round trip", () => {
    expect(normalizeRecoveryCodeInput(" 7kqm-x2fa-9tbe ")).toBe("7kqm-x2fa-9tbe");
    expect(normalizeRecoveryCodeInput("7KQMX2FA9TBE")).toBe("7KQMX2FA9TBE");
    expect(() => normalizeRecoveryCodeInput("7kqm-x2fa")).toThrow(FlowError);
    expect(() => normalizeRecoveryCodeInput("!!!!-....-????")).toThrow(FlowError);
  });
});
