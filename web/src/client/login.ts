/**
 * The password half of login: an OPAQUE key exchange (the shared driver, client/login.ts) whose
 * only output the server accepts is a short-lived login token. A wrong password is found out here,
 * in the browser (the envelope does not open), and reported with the same sentence as an unknown
 * username.
 */
import { logIn } from "../../../client/login.js";
import type { CypherClients } from "./clients.js";
import { FlowError } from "./flow-error.js";
import { WRONG_CREDENTIALS_MESSAGE, withOpaqueFailures } from "./opaque-failure.js";
import { normalizeUsername, usernameProblem } from "./username.js";

export { WRONG_CREDENTIALS_MESSAGE };

/** Proof that the password was right; CreateSession exchanges it, with a second factor, for a session. */
export interface PasswordProof {
  username: string;
  loginToken: string;
  expiresAt: Date;
  /** The server's OPAQUE identity, from LoginInit: a password change registers under it. */
  serverIdentity: string;
}

export async function login(clients: CypherClients, username: string, password: string): Promise<PasswordProof> {
  const normalized = normalizeUsername(username);
  // A username that cannot exist cannot have a password either: same sentence, no round trip.
  if (usernameProblem(normalized) !== null || password === "") {
    throw new FlowError("wrong-credentials", WRONG_CREDENTIALS_MESSAGE);
  }
  const proof = await withOpaqueFailures("login", () => logIn(clients.auth, normalized, password));
  return { ...proof, expiresAt: proof.expiresAt ?? new Date(Date.now() + 180_000) };
}
