/**
 * What a screen does when the server refuses a one-time code (enrollment's first TOTP code, the
 * second factor of a login), as `describeError` classified it: start the flow over (the token
 * behind the code expired or was burnt), let the user correct the code in its field (when the
 * screen names one), or show the message and, after "too many attempts", count down the wait the server asked for.
 */
import type { DescribedError } from "../../client/error-messages.js";
import type { Field, Notice } from "./components.js";
import { cooldown } from "./cooldown.js";

export function showCodeFailure(
  described: DescribedError,
  on: { restart: (message: string) => void; field?: Field; message: Notice; submit: HTMLButtonElement },
): void {
  if (described.recovery === "restart") return on.restart(described.message);
  if (described.recovery === "retry" && on.field) {
    on.field.setError(described.message);
    on.field.input.select();
    on.field.input.focus();
    return;
  }
  on.message.show("error", described.message);
  if (described.retryAfterSeconds) cooldown(on.submit, described.retryAfterSeconds);
}
