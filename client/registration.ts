/**
 * Registration as a client drives it: OPAQUE registration (the server only ever sees a blinded
 * password and the final record), then TOTP enrollment with the token registration returned.
 */
import type { CallOptions } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AuthClient } from "./cypher-clients.js";
import type { DriverOptions } from "./driver-options.js";
import { inProcessOpaque, opaqueIdentity } from "./opaque-client.js";

/** A registered account waiting for its TOTP enrollment. The token is a secret: keep it in memory. */
export interface Registration {
  /** The username as the server normalized it (also the OPAQUE client identity). */
  username: string;
  serverIdentity: string;
  enrollmentToken: string;
  /** Absent only if the server left the field out. */
  enrollmentExpiresAt: Date | undefined;
}

/** RegisterInit, the client's registerFinish, RegisterFinish. `username` is sent as given. */
export async function register(auth: AuthClient, username: string, password: string, options: DriverOptions = {}): Promise<Registration> {
  const registration = await (options.opaque ?? inProcessOpaque()).startRegistration(password);
  const init = await auth.registerInit({ username, registrationRequest: registration.request }, options.callOptions);
  const identity = opaqueIdentity(username);
  const record = await registration.finish(init.registrationResponse, init.serverIdentity, identity);
  const finish = await auth.registerFinish({ username, registrationRecord: record }, options.callOptions);
  return {
    username: identity,
    serverIdentity: init.serverIdentity,
    enrollmentToken: finish.enrollmentToken,
    enrollmentExpiresAt: finish.enrollmentExpiresAt ? timestampDate(finish.enrollmentExpiresAt) : undefined,
  };
}

export interface TotpSetup {
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  otpauthUri: string;
  qrCodePng: Uint8Array;
}

export async function setupTotp(auth: AuthClient, enrollmentToken: string, callOptions?: CallOptions): Promise<TotpSetup> {
  const res = await auth.setupTotp({ enrollmentToken }, callOptions);
  return { secret: res.secret, otpauthUri: res.otpauthUri, qrCodePng: res.qrCodePng };
}

/** Confirms enrollment with a current code; the answer is the recovery codes, given this once. */
export async function confirmTotp(auth: AuthClient, enrollmentToken: string, code: string, callOptions?: CallOptions): Promise<string[]> {
  const res = await auth.verifyTotpSetup({ enrollmentToken, code }, callOptions);
  return res.recoveryCodes;
}

/** SetupTotp then VerifyTotpSetup with the code `codeFor` computes from the secret (a script's authenticator). */
export async function enrollTotp(
  auth: AuthClient,
  enrollmentToken: string,
  codeFor: (secret: string) => string | Promise<string>,
  callOptions?: CallOptions,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret } = await setupTotp(auth, enrollmentToken, callOptions);
  const recoveryCodes = await confirmTotp(auth, enrollmentToken, await codeFor(secret), callOptions);
  return { secret, recoveryCodes };
}
