/**
 * The whole user journey as a client drives it, through the public port: registration (OPAQUE),
 * TOTP enrollment, then login (OPAQUE) and CreateSession with a TOTP code. Used by the benchmark's
 * load process (full logins per second) and by the example-backend tests.
 *
 * The client side runs the real @cloudflare/opaque-ts OpaqueClient. By default it skips the
 * client's key stretching (IdentityMemHardFn instead of scrypt): stretching costs the CLIENT about
 * 0.4 s per login and nothing on the server, whose work is the same either way.
 */
import { createHmac } from "node:crypto";
import { getOpaqueConfig, IdentityMemHardFn, KE2, OpaqueClient, OpaqueID, RegistrationResponse, type MemoryHardFn } from "@cloudflare/opaque-ts";
import type { Client } from "@connectrpc/connect";
import type { AuthService } from "../gen/cypher/auth/v1/auth_pb.js";
import type { SessionService } from "../gen/cypher/session/v1/session_pb.js";

const cfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);

export interface Clients {
  auth: Client<typeof AuthService>;
  session: Client<typeof SessionService>;
}

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

function unwrap<T>(value: T | Error): T {
  if (value instanceof Error) throw value;
  return value;
}

/** Registers and enrolls TOTP; the account is active afterwards. `at` is the time to compute codes for. */
export async function registerAccount(
  clients: Clients,
  username: string,
  password: string,
  options: { memHard?: MemoryHardFn; at?: () => Date } = {},
): Promise<Account> {
  const now = options.at ?? (() => new Date());
  const opaque = new OpaqueClient(cfg, options.memHard ?? IdentityMemHardFn);
  const request = unwrap(await opaque.registerInit(password));
  const init = await clients.auth.registerInit({ username, registrationRequest: Uint8Array.from(request.serialize()) });
  const finished = unwrap(
    await opaque.registerFinish(RegistrationResponse.deserialize(cfg, Array.from(init.registrationResponse)), init.serverIdentity, normalize(username)),
  );
  const { enrollmentToken } = await clients.auth.registerFinish({ username, registrationRecord: Uint8Array.from(finished.record.serialize()) });
  const { secret } = await clients.auth.setupTotp({ enrollmentToken });
  await clients.auth.verifyTotpSetup({ enrollmentToken, code: totpCode(secret, now()) });
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
  const opaque = new OpaqueClient(cfg, options.memHard ?? IdentityMemHardFn);
  const ke1 = unwrap(await opaque.authInit(account.password));
  const init = await clients.auth.loginInit({ username: account.username, ke1: Uint8Array.from(ke1.serialize()) });
  const finished = unwrap(await opaque.authFinish(KE2.deserialize(cfg, Array.from(init.ke2)), init.serverIdentity, normalize(account.username)));
  const { loginToken } = await clients.auth.loginFinish({ loginId: init.loginId, ke3: Uint8Array.from(finished.ke3.serialize()) });
  const code = totpCode(account.totpSecret, new Date(now().getTime() + (options.stepOffset ?? 1) * 30_000));
  const created = await clients.session.createSession({ loginToken, secondFactor: { case: "totpCode", value: code }, deviceName: options.deviceName ?? "bench" });
  return {
    sessionId: created.session!.sessionId,
    userId: created.session!.userId,
    username: created.session!.username,
    accessToken: created.tokens!.accessToken,
    refreshToken: created.tokens!.refreshToken,
  };
}

function normalize(username: string): string {
  return username.normalize("NFKC").toLowerCase();
}

/** RFC 6238 (HMAC-SHA-1, 6 digits, 30 s steps) for a base32 secret, written from the RFC. */
export function totpCode(base32Secret: string, at: Date): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32Secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 30_000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return ((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).toString().padStart(6, "0");
}
