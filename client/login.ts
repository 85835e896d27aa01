/**
 * Login as a client drives it, in steps a caller can time or stop between: the client's OPAQUE
 * start (opaque.startLogin), LoginInit (`sendLoginInit`), the client's OPAQUE finish
 * (`answerLoginChallenge`: a wrong password is found out here, on the client), LoginFinish
 * (`sendLoginFinish`), and CreateSession with a second factor (`createSession`). `logIn` runs the
 * password part whole.
 */
import type { CallOptions } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { CreateSessionResponse } from "../gen/cypher/session/v1/session_pb.js";
import type { LoginInitResponse } from "../gen/cypher/auth/v1/auth_pb.js";
import type { AuthClient, SessionClient } from "./cypher-clients.js";
import { inProcessOpaque, opaqueIdentity, type LoginInProgress } from "./opaque-client.js";
import type { DriverOptions } from "./driver-options.js";

/** Proof that the password was right; CreateSession exchanges it, with a second factor, for a session. */
export interface PasswordProof {
  /** The username as the server normalized it. */
  username: string;
  loginToken: string;
  /** Absent only if the server left the field out. */
  expiresAt: Date | undefined;
  /** The server's OPAQUE identity, from LoginInit: a new password (ChangePassword) is registered under it. */
  serverIdentity: string;
}

/** LoginInit with the KE1 of a started login. `username` is sent as given. */
export async function sendLoginInit(
  auth: AuthClient,
  username: string,
  login: LoginInProgress,
  options: { callOptions?: CallOptions; deviceToken?: string } = {},
): Promise<LoginInitResponse> {
  const request = { username, ke1: login.ke1, ...(options.deviceToken === undefined ? {} : { deviceToken: options.deviceToken }) };
  return await auth.loginInit(request, options.callOptions);
}

/** The client's authFinish: LoginFinish's ke3, or OpaqueClientError("finish") for a wrong password. */
export async function answerLoginChallenge(login: LoginInProgress, username: string, init: LoginInitResponse): Promise<Uint8Array> {
  return await login.finish(init.ke2, init.serverIdentity, opaqueIdentity(username));
}

export async function sendLoginFinish(auth: AuthClient, username: string, init: LoginInitResponse, ke3: Uint8Array, callOptions?: CallOptions): Promise<PasswordProof> {
  const res = await auth.loginFinish({ loginId: init.loginId, ke3 }, callOptions);
  return {
    username: opaqueIdentity(username),
    serverIdentity: init.serverIdentity,
    loginToken: res.loginToken,
    expiresAt: res.loginTokenExpiresAt ? timestampDate(res.loginTokenExpiresAt) : undefined,
  };
}

/** After LoginInit: the client's finish and LoginFinish. */
export async function completeLogin(auth: AuthClient, username: string, login: LoginInProgress, init: LoginInitResponse, callOptions?: CallOptions): Promise<PasswordProof> {
  const ke3 = await answerLoginChallenge(login, username, init);
  return await sendLoginFinish(auth, username, init, ke3, callOptions);
}

/** The password part of login, whole. */
export async function logIn(auth: AuthClient, username: string, password: string, options: DriverOptions & { deviceToken?: string } = {}): Promise<PasswordProof> {
  const login = await (options.opaque ?? inProcessOpaque()).startLogin(password);
  const init = await sendLoginInit(auth, username, login, options);
  return await completeLogin(auth, username, login, init, options.callOptions);
}

export type SecondFactor = { totpCode: string } | { recoveryCode: string };

/** CreateSession: the login token and a second factor for a session and its tokens. */
export async function createSession(
  session: SessionClient,
  loginToken: string,
  factor: SecondFactor,
  deviceName: string,
  callOptions?: CallOptions,
): Promise<CreateSessionResponse> {
  const secondFactor = "totpCode" in factor ? { case: "totpCode" as const, value: factor.totpCode } : { case: "recoveryCode" as const, value: factor.recoveryCode };
  return await session.createSession({ loginToken, secondFactor, deviceName }, callOptions);
}
