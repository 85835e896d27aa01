/**
 * A recovery code as the person typed it (7kqm-x2fa-9tbe): spaces, dashes and case do not matter to
 * the server; anything but 12 letters and digits is refused here, before a call is spent on it.
 */
import { FlowError } from "./flow-error.js";

export function normalizeRecoveryCodeInput(value: string): string {
  const trimmed = value.trim();
  if (!/^[a-z0-9]{12}$/i.test(trimmed.replace(/[\s-]/g, ""))) {
    throw new FlowError("invalid-code", "A recovery code has 12 letters and digits, like 7kqm-x2fa-9tbe.");
  }
  return trimmed;
}
