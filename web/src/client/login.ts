/**
 * The password half of login: an OPAQUE key exchange whose only output the server accepts is a
 * short-lived login token. A wrong password is found out here, in the browser (the envelope does
 * not open), and reported with the same sentence as an unknown username.
 */
import { KE2, OpaqueClient } from "@cloudflare/opaque-ts";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { fromBytes, toBytes } from "./bytes.js";
import type { CypherClients } from "./clients.js";
import { FlowError } from "./flow-error.js";
import { opaqueConfig, parseServerMessage, unwrap } from "./opaque.js";
import { normalizeUsername, usernameProblem } from "./username.js";

export const WRONG_CREDENTIALS_MESSAGE = "Wrong username or password.";

/** Proof that the password was right; CreateSession exchanges it, with a second factor, for a session. */
export interface PasswordProof {
  username: string;
  loginToken: string;
  expiresAt: Date;
}

export async function login(clients: CypherClients, username: string, password: string): Promise<PasswordProof> {
  const normalized = normalizeUsername(username);
  // A username that cannot exist cannot have a password either: same sentence, no round trip.
  if (usernameProblem(normalized) !== null || password === "") {
    throw new FlowError("wrong-credentials", WRONG_CREDENTIALS_MESSAGE);
  }
  const cfg = opaqueConfig();
  const client = new OpaqueClient(cfg);
  const ke1 = unwrap(await client.authInit(password), () => new FlowError("protocol", "Could not start login in this browser."));
  const init = await clients.auth.loginInit({ username: normalized, ke1: toBytes(ke1.serialize()) });
  const ke2 = parseServerMessage(() => KE2.deserialize(cfg, fromBytes(init.ke2)));
  // EnvelopeRecoveryError (wrong password) and every other failure here read the same to the user.
  const { ke3 } = unwrap(
    await client.authFinish(ke2, init.serverIdentity, normalized),
    () => new FlowError("wrong-credentials", WRONG_CREDENTIALS_MESSAGE),
  );
  const finish = await clients.auth.loginFinish({ loginId: init.loginId, ke3: toBytes(ke3.serialize()) });
  return {
    username: normalized,
    loginToken: finish.loginToken,
    expiresAt: finish.loginTokenExpiresAt ? timestampDate(finish.loginTokenExpiresAt) : new Date(Date.now() + 180_000),
  };
}
