/**
 * Shared by the AuthService rpc tests (not a test file itself): an AuthService behind an in-memory
 * Connect transport with the production error mapping, registration and login through the client
 * driver (client/: the real opaque-ts client, default scrypt stretching unless told otherwise),
 * and an RFC 6238 TOTP written here from the RFC, independent of the server's otplib-based one.
 */
import { createHmac } from "node:crypto";
import { Code, ConnectError, createClient, createRouterTransport, type Client, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { getOpaqueConfig, OpaqueID, type MemoryHardFn } from "@cloudflare/opaque-ts";
import { expect } from "vitest";
import { answerLoginChallenge, sendLoginInit } from "../../client/login.js";
import { inProcessOpaque, OpaqueClientError } from "../../client/opaque-client.js";
import { enrollTotp, register as registerThroughDriver } from "../../client/registration.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createAuthModule, type AuthModule } from "../../server/rpc/auth-module.js";
import { silentLogger } from "../../server/logger.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import type { TokenService } from "../../server/tokens/token-service.js";
import { createErrorMappingInterceptor } from "../../server/transport/error-mapping.js";
import { peerAddressKey } from "../../server/transport/request-meta.js";
import { createTestContext, type TestContext } from "../support/test-context.js";

export const cfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);
export type AuthClient = Client<typeof AuthService>;

/** Header through which a test chooses the client IP the server sees (the listener would set it from the socket). */
export const TEST_IP_HEADER = "x-test-client-ip";

const testPeerAddress: Interceptor = (next) => (req) => {
  req.contextValues.set(peerAddressKey, req.header.get(TEST_IP_HEADER) ?? "192.0.2.1");
  return next(req);
};

export function authClient(service: ServiceImpl<typeof AuthService>): AuthClient {
  const transport = createRouterTransport((router) => router.service(AuthService, service), {
    router: { interceptors: [createErrorMappingInterceptor(silentLogger), testPeerAddress] },
  });
  return createClient(AuthService, transport);
}

export interface AuthHarness {
  ctx: TestContext;
  tokens: TokenService;
  module: AuthModule;
  client: AuthClient;
  close(): Promise<void>;
}

export async function startAuth(env: Record<string, string> = {}): Promise<AuthHarness> {
  const ctx = await createTestContext({ env: { OPAQUE_WORKER_THREADS: "2", ...env } });
  const tokens = await createPasetoTokenService(ctx.keys, ctx.clock);
  const module = await createAuthModule(ctx, tokens);
  return {
    ctx,
    tokens,
    module,
    client: authClient(module.service),
    close: async () => {
      await module.close();
      await ctx.close();
    },
  };
}

/** Call options that make the server see `ip` (and a user agent). */
export function from(ip: string): { headers: Record<string, string> } {
  return { headers: { [TEST_IP_HEADER]: ip, "user-agent": "auth-tests/1.0" } };
}

/** Both halves of registration through the client driver (client/); returns the enrollment token. */
export async function register(
  client: AuthClient,
  username: string,
  password: string,
  options: { ip?: string; memHard?: MemoryHardFn } = {},
): Promise<{ enrollmentToken: string; serverIdentity: string; enrollmentExpiresAt: Date }> {
  const registration = await registerThroughDriver(client, username, password, {
    opaque: inProcessOpaque(options.memHard),
    callOptions: from(options.ip ?? "192.0.2.10"),
  });
  return {
    enrollmentToken: registration.enrollmentToken,
    serverIdentity: registration.serverIdentity,
    enrollmentExpiresAt: registration.enrollmentExpiresAt ?? new Date(0),
  };
}

/** SetupTotp then VerifyTotpSetup with a code from the independent TOTP below, at the server's clock. */
export async function enroll(client: AuthClient, enrollmentToken: string, now: Date): Promise<{ secret: string; recoveryCodes: string[] }> {
  return await enrollTotp(client, enrollmentToken, (secret) => rfc6238Code(secret, now), from("192.0.2.10"));
}

export type LoginAttempt =
  | { ok: true; loginId: string; ke3: Uint8Array; ke2: Uint8Array }
  /** The client could not open its envelope: wrong password (or a fake record); no KE3 exists. */
  | { ok: false; loginId: string; ke2: Uint8Array; clientError: Error };

/** LoginInit, then the client's authFinish (the driver's steps). Does not call LoginFinish. */
export async function beginLogin(
  client: AuthClient,
  username: string,
  password: string,
  options: { ip?: string; memHard?: MemoryHardFn } = {},
): Promise<LoginAttempt> {
  const login = await inProcessOpaque(options.memHard).startLogin(password);
  const init = await sendLoginInit(client, username, login, { callOptions: from(options.ip ?? "192.0.2.20") });
  try {
    return { ok: true, loginId: init.loginId, ke3: await answerLoginChallenge(login, username, init), ke2: init.ke2 };
  } catch (err) {
    if (!(err instanceof OpaqueClientError) || err.step !== "finish") throw err;
    // opaque-ts's own error (EnvelopeRecoveryError for a wrong password), which tests compare.
    return { ok: false, loginId: init.loginId, ke2: init.ke2, clientError: err.cause as Error };
  }
}

/** A KE1 from the real client (its state is thrown away: enough for LoginInits never finished). */
export async function someKe1(password = "whatever"): Promise<Uint8Array> {
  return (await inProcessOpaque().startLogin(password)).ke1;
}

/** RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s), straight from the RFC, for a base32 secret. */
export function rfc6238Code(base32Secret: string, at: Date, stepSeconds = 30, digits = 6): string {
  const key = base32Decode(base32Secret);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 1000 / stepSeconds)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, "0");
}

function base32Decode(input: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of input.replace(/=+$/, "").toUpperCase()) {
    const index = alphabet.indexOf(ch);
    if (index < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** Awaits a call that must fail with `code`; returns the ConnectError. */
export async function expectCode(call: Promise<unknown>, code: Code): Promise<ConnectError> {
  const error = await call.then(
    () => {
      throw new Error(`expected ${Code[code]}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  const connectError = ConnectError.from(error);
  expect(Code[connectError.code]).toBe(Code[code]);
  return connectError;
}

export function violationsOf(error: ConnectError): { field: string; description: string }[] {
  return error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}

export function reasonOf(error: ConnectError): string | undefined {
  return error.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** RetryInfo's delay in milliseconds, or undefined when the error carries none. */
export function retryDelayMsOf(error: ConnectError): number | undefined {
  const info = error.findDetails(RetryInfoSchema)[0];
  if (!info?.retryDelay) return undefined;
  return Number(info.retryDelay.seconds) * 1000 + Math.round(info.retryDelay.nanos / 1e6);
}
