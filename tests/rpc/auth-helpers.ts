/**
 * Shared by the AuthService rpc tests (not a test file itself): an AuthService behind an in-memory
 * Connect transport with the production error mapping, a client that drives the real opaque-ts
 * OpaqueClient (default scrypt stretching unless told otherwise), and an RFC 6238 TOTP written
 * here from the RFC, independent of the server's otplib-based one.
 */
import { createHmac } from "node:crypto";
import { Code, ConnectError, createClient, createRouterTransport, type Client, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import {
  getOpaqueConfig,
  KE2,
  OpaqueClient,
  OpaqueID,
  RegistrationResponse,
  type MemoryHardFn,
} from "@cloudflare/opaque-ts";
import { expect } from "vitest";
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

/** Both halves of registration through the real OPAQUE client; returns the enrollment token. */
export async function register(
  client: AuthClient,
  username: string,
  password: string,
  options: { ip?: string; memHard?: MemoryHardFn } = {},
): Promise<{ enrollmentToken: string; serverIdentity: string; enrollmentExpiresAt: Date }> {
  const call = from(options.ip ?? "192.0.2.10");
  const opaque = new OpaqueClient(cfg, options.memHard);
  const request = await opaque.registerInit(password);
  if (request instanceof Error) throw request;
  const init = await client.registerInit({ username, registrationRequest: Uint8Array.from(request.serialize()) }, call);
  const finished = await opaque.registerFinish(
    RegistrationResponse.deserialize(cfg, Array.from(init.registrationResponse)),
    init.serverIdentity,
    username.normalize("NFKC").toLowerCase(),
  );
  if (finished instanceof Error) throw finished;
  const response = await client.registerFinish({ username, registrationRecord: Uint8Array.from(finished.record.serialize()) }, call);
  const expiresAt = response.enrollmentExpiresAt;
  return {
    enrollmentToken: response.enrollmentToken,
    serverIdentity: init.serverIdentity,
    enrollmentExpiresAt: new Date(Number(expiresAt?.seconds ?? 0n) * 1000 + Math.floor((expiresAt?.nanos ?? 0) / 1e6)),
  };
}

/** SetupTotp then VerifyTotpSetup with a code from the independent TOTP below, at the server's clock. */
export async function enroll(client: AuthClient, enrollmentToken: string, now: Date): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await client.setupTotp({ enrollmentToken });
  const code = rfc6238Code(setup.secret, now);
  const verified = await client.verifyTotpSetup({ enrollmentToken, code }, from("192.0.2.10"));
  return { secret: setup.secret, recoveryCodes: verified.recoveryCodes };
}

export type LoginAttempt =
  | { ok: true; loginId: string; ke3: Uint8Array; ke2: Uint8Array }
  /** The client could not open its envelope: wrong password (or a fake record); no KE3 exists. */
  | { ok: false; loginId: string; ke2: Uint8Array; clientError: Error };

/** LoginInit, then the client's authFinish. Does not call LoginFinish. */
export async function beginLogin(
  client: AuthClient,
  username: string,
  password: string,
  options: { ip?: string; memHard?: MemoryHardFn } = {},
): Promise<LoginAttempt> {
  const opaque = new OpaqueClient(cfg, options.memHard);
  const ke1 = await opaque.authInit(password);
  if (ke1 instanceof Error) throw ke1;
  const init = await client.loginInit({ username, ke1: Uint8Array.from(ke1.serialize()) }, from(options.ip ?? "192.0.2.20"));
  const finished = await opaque.authFinish(
    KE2.deserialize(cfg, Array.from(init.ke2)),
    init.serverIdentity,
    username.normalize("NFKC").toLowerCase(),
  );
  if (finished instanceof Error) return { ok: false, loginId: init.loginId, ke2: init.ke2, clientError: finished };
  return { ok: true, loginId: init.loginId, ke3: Uint8Array.from(finished.ke3.serialize()), ke2: init.ke2 };
}

/** A KE1 from the real client (its state is thrown away: enough for LoginInits never finished). */
export async function someKe1(password = "whatever"): Promise<Uint8Array> {
  const ke1 = await new OpaqueClient(cfg).authInit(password);
  if (ke1 instanceof Error) throw ke1;
  return Uint8Array.from(ke1.serialize());
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
