/**
 * What an account screen does when a call fails, as `describeAccountError` classified it. A refused
 * token may be the step-up's (expired, spent: ask for the password and a code again) or the
 * session's own (logged out on another device): one ListSessions tells which, and if the session
 * is over, the session manager logs every tab out and the app shows the login screen.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { DescribedAccountError } from "../../client/account-errors.js";
import type { Ui } from "../app.js";
import type { Field, Notice } from "./components.js";
import { showCodeFailure } from "./code-failure.js";

export async function showAccountFailure(
  ui: Ui,
  described: DescribedAccountError,
  on: { restart: (message: string) => void; field?: Field; message: Notice; submit: HTMLButtonElement },
): Promise<void> {
  if (described.recovery === "restart" && described.sessionMayHaveEnded && !(await sessionIsLive(ui))) return;
  showCodeFailure(described, on);
}

/** Whether the session is still live (asked through the session manager, which refreshes a stale token and signs out a dead session). */
export async function sessionIsLive(ui: Ui): Promise<boolean> {
  try {
    await ui.account.listSessions({});
    return true;
  } catch (err) {
    // Unauthenticated: the manager has signed out (the app moves to the login screen by itself).
    return ConnectError.from(err).code !== Code.Unauthenticated;
  }
}
