/**
 * A real user's side of Cypher over any transport: OPAQUE registration and login with the
 * opaque-ts client (IdentityMemHardFn: key stretching costs the CLIENT time and nothing on the
 * server, so load and fault scripts skip it), TOTP enrollment, CreateSession with a TOTP code for a
 * step not used yet or a recovery code. Used by bench/soak.ts and the fault tests.
 */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { getOpaqueConfig, IdentityMemHardFn, KE2, OpaqueClient, OpaqueID, RegistrationResponse } from "@cloudflare/opaque-ts";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { totpCodeAt } from "../../server/auth/totp.js";

const cfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);

export interface Clients {
  auth: Client<typeof AuthService>;
  session: Client<typeof SessionService>;
}

export function cypherClients(transport: Transport): Clients {
  return { auth: createClient(AuthService, transport), session: createClient(SessionService, transport) };
}

export interface User {
  username: string;
  password: string;
  totpSecret: string;
  recoveryCodes: string[];
  /** The last TOTP step used (each step is accepted once). */
  lastStep: number;
}

export interface Tokens {
  sessionId: string;
  accessToken: string;
  refreshToken: string;
}

const normalize = (username: string) => username.normalize("NFKC").toLowerCase();

/** Registers and enrolls `username`: an active account. */
export async function registerUser(c: Clients, username: string, password = `pw-${username}`): Promise<User> {
  const opaque = new OpaqueClient(cfg, IdentityMemHardFn);
  const request = await opaque.registerInit(password);
  if (request instanceof Error) throw request;
  const init = await c.auth.registerInit({ username, registrationRequest: Uint8Array.from(request.serialize()) });
  const finished = await opaque.registerFinish(
    RegistrationResponse.deserialize(cfg, Array.from(init.registrationResponse)),
    init.serverIdentity,
    normalize(username),
  );
  if (finished instanceof Error) throw finished;
  const { enrollmentToken } = await c.auth.registerFinish({ username, registrationRecord: Uint8Array.from(finished.record.serialize()) });
  const setup = await c.auth.setupTotp({ enrollmentToken });
  const step = Math.floor(Date.now() / 30_000);
  const verified = await c.auth.verifyTotpSetup({ enrollmentToken, code: await totpCodeAt(setup.secret, new Date()) });
  return { username, password, totpSecret: setup.secret, recoveryCodes: [...verified.recoveryCodes], lastStep: step };
}

/** LoginInit + LoginFinish: a login token. */
export async function loginToken(c: Clients, user: User, password = user.password): Promise<string> {
  const opaque = new OpaqueClient(cfg, IdentityMemHardFn);
  const ke1 = await opaque.authInit(password);
  if (ke1 instanceof Error) throw ke1;
  const init = await c.auth.loginInit({ username: user.username, ke1: Uint8Array.from(ke1.serialize()) });
  const finished = await opaque.authFinish(KE2.deserialize(cfg, Array.from(init.ke2)), init.serverIdentity, normalize(user.username));
  if (finished instanceof Error) throw finished;
  const res = await c.auth.loginFinish({ loginId: init.loginId, ke3: Uint8Array.from(finished.ke3.serialize()) });
  return res.loginToken;
}

/**
 * The second factor for the next login: a TOTP code for a step this user has not used yet (the
 * current step or the next, which the server accepts as ±1), else a recovery code.
 */
export async function nextSecondFactor(user: User): Promise<{ case: "totpCode" | "recoveryCode"; value: string }> {
  const step = Math.floor(Date.now() / 30_000);
  for (const candidate of [step, step + 1]) {
    if (candidate > user.lastStep) {
      user.lastStep = candidate;
      return { case: "totpCode", value: await totpCodeAt(user.totpSecret, new Date(candidate * 30_000 + 1_000)) };
    }
  }
  const recovery = user.recoveryCodes.shift();
  if (!recovery) throw new Error(`${user.username} has used every second factor for now`);
  return { case: "recoveryCode", value: recovery };
}

/** The whole login: OPAQUE, then CreateSession with the next second factor. */
export async function login(c: Clients, user: User, deviceName = "bench"): Promise<Tokens> {
  const token = await loginToken(c, user);
  const res = await c.session.createSession({ loginToken: token, secondFactor: await nextSecondFactor(user), deviceName });
  return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken, refreshToken: res.tokens!.refreshToken };
}

export function bearer(accessToken: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${accessToken}` } };
}
