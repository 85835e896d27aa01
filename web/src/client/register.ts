/**
 * Registration as the browser drives it: OPAQUE registration (the server only ever sees a blinded
 * password and the final record), then TOTP enrollment with the token that registration returned.
 */
import { OpaqueClient, RegistrationResponse } from "@cloudflare/opaque-ts";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { fromBytes, toBytes } from "./bytes.js";
import type { CypherClients } from "./clients.js";
import { FlowError } from "./flow-error.js";
import { opaqueConfig, parseServerMessage, unwrap } from "./opaque.js";
import { passwordProblem } from "./password.js";
import { newUsernameProblem, normalizeUsername } from "./username.js";

/** A registered account waiting for its TOTP enrollment. The token is a secret: memory only. */
export interface PendingEnrollment {
  username: string;
  enrollmentToken: string;
  expiresAt: Date;
}

export interface TotpSetup {
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  otpauthUri: string;
  qrCodePng: Uint8Array;
}

export async function register(clients: CypherClients, username: string, password: string): Promise<PendingEnrollment> {
  const normalized = normalizeUsername(username);
  const badUsername = newUsernameProblem(normalized);
  if (badUsername !== null) throw new FlowError("invalid-username", badUsername);
  const badPassword = passwordProblem(password);
  if (badPassword !== null) throw new FlowError("invalid-password", badPassword);

  const cfg = opaqueConfig();
  const client = new OpaqueClient(cfg);
  const request = unwrap(await client.registerInit(password), () => new FlowError("protocol", "Could not start registration in this browser."));
  const init = await clients.auth.registerInit({
    username: normalized,
    registrationRequest: toBytes(request.serialize()),
  });
  const response = parseServerMessage(() => RegistrationResponse.deserialize(cfg, fromBytes(init.registrationResponse)));
  // The client identity is the normalized username, exactly as the server passes it at login.
  const { record } = unwrap(
    await client.registerFinish(response, init.serverIdentity, normalized),
    () => new FlowError("protocol", "The server's registration answer did not check out."),
  );
  const finish = await clients.auth.registerFinish({
    username: normalized,
    registrationRecord: toBytes(record.serialize()),
  });
  return {
    username: normalized,
    enrollmentToken: finish.enrollmentToken,
    expiresAt: finish.enrollmentExpiresAt ? timestampDate(finish.enrollmentExpiresAt) : new Date(Date.now() + 5 * 60_000),
  };
}

export async function setupTotp(clients: CypherClients, enrollment: PendingEnrollment): Promise<TotpSetup> {
  const res = await clients.auth.setupTotp({ enrollmentToken: enrollment.enrollmentToken });
  return { secret: res.secret, otpauthUri: res.otpauthUri, qrCodePng: res.qrCodePng };
}

/** Confirms enrollment with a current code; the answer is the recovery codes, shown this once. */
export async function confirmTotp(clients: CypherClients, enrollment: PendingEnrollment, code: string): Promise<string[]> {
  const res = await clients.auth.verifyTotpSetup({
    enrollmentToken: enrollment.enrollmentToken,
    code: normalizeTotpCode(code),
  });
  return res.recoveryCodes;
}

/** Authenticator apps show "123 456"; people paste that. The server wants six digits. */
export function normalizeTotpCode(input: string): string {
  const digits = input.replace(/[\s-]/g, "");
  if (!/^\d{6}$/.test(digits)) throw new FlowError("invalid-code", "Enter the 6-digit code from your authenticator app.");
  return digits;
}
