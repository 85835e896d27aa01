/**
 * The driver's OPAQUE failures (client/opaque-client.ts) as the sentences this app shows. At login
 * a step that does not finish means a wrong password, reported like an unknown username.
 */
import { OpaqueClientError } from "../../../client/opaque-client.js";
import { FlowError } from "./flow-error.js";

export const WRONG_CREDENTIALS_MESSAGE = "Wrong username or password.";

/** Runs `flow`, turning an OpaqueClientError into the FlowError `describeError` understands. */
export async function withOpaqueFailures<T>(flow: "login" | "register" | "change-password", run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof OpaqueClientError)) throw err;
    switch (err.step) {
      case "start":
        throw new FlowError("protocol", `Could not start ${STARTS[flow]} in this browser.`);
      case "read-answer":
        throw new FlowError("protocol", "The server sent an answer this app cannot read.");
      case "finish":
        throw flow === "login"
          ? new FlowError("wrong-credentials", WRONG_CREDENTIALS_MESSAGE)
          : new FlowError("protocol", `The server's ${ANSWERS[flow]} answer did not check out.`);
    }
  }
}

const STARTS = { login: "login", register: "registration", "change-password": "the password change" } as const;
const ANSWERS = { register: "registration", "change-password": "password change" } as const;
