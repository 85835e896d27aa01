/**
 * The whole user journey as a client drives it, through the public port: registration (OPAQUE),
 * TOTP enrollment, then login (OPAQUE) and CreateSession with a TOTP code. Used by the benchmark's
 * load process (full logins per second) and by the example-backend tests.
 *
 * The steps are the client driver's (client/). By default the client skips its key stretching
 * (IdentityMemHardFn instead of scrypt): stretching costs the CLIENT about 0.4 s per login and
 * nothing on the server, whose work is the same either way.
 */
import { IdentityMemHardFn, type MemoryHardFn } from "@cloudflare/opaque-ts";
import type { CypherClients } from "../client/cypher-clients.js";
import { createSession, logIn as logInWithPassword } from "../client/login.js";
import { inProcessOpaque } from "../client/opaque-client.js";
import { enrollTotp, register } from "../client/registration.js";
import { totpCodeAt } from "../server/auth/totp.js";

export type Clients = CypherClients;

export interface Account {
  username: string;
  password: string;
  totpSecret: string;
}

export interface LoggedIn {
  sessionId: string;
  userId: string;
  username: string;
  accessToken: string;
  refreshToken: string;
}

/** Registers and enrolls TOTP; the account is active afterwards. `at` is the time to compute codes for. */
export async function registerAccount(
  clients: Clients,
  username: string,
  password: string,
  options: { memHard?: MemoryHardFn; at?: () => Date } = {},
): Promise<Account> {
  const now = options.at ?? (() => new Date());
  const { enrollmentToken } = await register(clients.auth, username, password, { opaque: inProcessOpaque(options.memHard ?? IdentityMemHardFn) });
  const { secret } = await enrollTotp(clients.auth, enrollmentToken, (secret) => totpCodeAt(secret, now()));
  return { username, password, totpSecret: secret };
}

/**
 * LoginInit, LoginFinish, CreateSession. The TOTP code is the NEXT step's (accepted: ±1 step), so
 * a login right after enrollment, or right after an earlier login in the same 30 s, still works
 * once; a third login of one account within one step would be refused (a step is used once).
 */
export async function logIn(
  clients: Clients,
  account: Account,
  options: { memHard?: MemoryHardFn; at?: () => Date; deviceName?: string; stepOffset?: number } = {},
): Promise<LoggedIn> {
  const now = options.at ?? (() => new Date());
  const { loginToken } = await logInWithPassword(clients.auth, account.username, account.password, { opaque: inProcessOpaque(options.memHard ?? IdentityMemHardFn) });
  const code = await totpCodeAt(account.totpSecret, new Date(now().getTime() + (options.stepOffset ?? 1) * 30_000));
  const created = await createSession(clients.session, loginToken, { totpCode: code }, options.deviceName ?? "bench");
  return {
    sessionId: created.session!.sessionId,
    userId: created.session!.userId,
    username: created.session!.username,
    accessToken: created.tokens!.accessToken,
    refreshToken: created.tokens!.refreshToken,
  };
}
