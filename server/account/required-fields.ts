/** Shape checks shared by the AccountService handlers (InvalidArgument with a field violation). */
import { invalidArgument } from "../errors.js";

/** An empty reauth token is malformed input; a non-empty wrong one is an authentication failure. */
export function requireReauthToken(token: string): string {
  if (token === "") throw invalidArgument({ field: "reauth_token", description: "is required (from Reauthenticate)" });
  return token;
}
