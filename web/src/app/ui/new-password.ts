/**
 * A new password typed twice (registration, password change): the strength hint under the first
 * field, and the check that both say the same before anything is sent.
 */
import { PASSWORD_MIN_LENGTH } from "../../client/password.js";
import { field, type Field } from "./components.js";

export interface NewPasswordFields {
  password: Field;
  confirm: Field;
  /** Clears both fields' errors; false (the repeat marked and focused) when the two differ. */
  confirmed(): boolean;
}

export function newPasswordFields(labels: { password: string; confirm: string }): NewPasswordFields {
  const password = field({
    label: labels.password,
    name: "new-password",
    type: "password",
    autocomplete: "new-password",
    revealable: true,
    hint: `At least ${PASSWORD_MIN_LENGTH} characters. A few unrelated words make a strong one.`,
  });
  const confirm = field({ label: labels.confirm, name: "confirm-password", type: "password", autocomplete: "new-password" });
  return {
    password,
    confirm,
    confirmed() {
      password.setError(null);
      confirm.setError(null);
      if (password.value() === confirm.value()) return true;
      confirm.setError("The passwords do not match.");
      confirm.input.focus();
      return false;
    },
  };
}
