/**
 * A real user's side of Cypher over any transport, through the client driver (client/): OPAQUE
 * registration and login (IdentityMemHardFn: key stretching costs the CLIENT time and nothing on
 * the server, so load and fault scripts skip it), TOTP enrollment, CreateSession with a TOTP code
 * for a step not used yet or a recovery code. Used by bench/soak.ts and the fault tests.
 */
import { IdentityMemHardFn } from "@cloudflare/opaque-ts";
import { createCypherClients, type CypherClients } from "../../client/cypher-clients.js";
import { createSession, logIn, type SecondFactor } from "../../client/login.js";
import { inProcessOpaque } from "../../client/opaque-client.js";
import { enrollTotp, register } from "../../client/registration.js";
import { totpCodeAt } from "../../server/auth/totp.js";

export type Clients = CypherClients;
export const cypherClients = createCypherClients;

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

const opaque = inProcessOpaque(IdentityMemHardFn);

/** Registers and enrolls `username`: an active account. */
export async function registerUser(c: Clients, username: string, password = `pw-${username}`): Promise<User> {
  const { enrollmentToken } = await register(c.auth, username, password, { opaque });
  // The step of the code enrollment actually used (SetupTotp's round trip may cross a step boundary).
  let step = 0;
  const enrolled = await enrollTotp(c.auth, enrollmentToken, (secret) => {
    const now = new Date();
    step = Math.floor(now.getTime() / 30_000);
    return totpCodeAt(secret, now);
  });
  return { username, password, totpSecret: enrolled.secret, recoveryCodes: [...enrolled.recoveryCodes], lastStep: step };
}

/** LoginInit + LoginFinish: a login token. */
export async function loginToken(c: Clients, user: User, password = user.password): Promise<string> {
  return (await logIn(c.auth, user.username, password, { opaque })).loginToken;
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
  const factor = await nextSecondFactor(user);
  const res = await createSession(c.session, token, asDriverFactor(factor), deviceName);
  return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken, refreshToken: res.tokens!.refreshToken };
}

function asDriverFactor(factor: { case: "totpCode" | "recoveryCode"; value: string }): SecondFactor {
  return factor.case === "totpCode" ? { totpCode: factor.value } : { recoveryCode: factor.value };
}

export function bearer(accessToken: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${accessToken}` } };
}
