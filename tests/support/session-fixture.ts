/**
 * SessionService tests without AuthService: an active account written straight into the database
 * (TOTP secret sealed as enrollment would, recovery codes hashed), login tokens signed directly,
 * and a SessionService client over an in-memory router transport with the real error mapping.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { AppContext } from "../../server/app-context.js";
import { generateRecoveryCodes, hashRecoveryCode, recoveryCodePepper } from "../../server/auth/recovery-codes.js";
import { seal } from "../../server/auth/secret-box.js";
import { newTotpSecret, totpCodeAt } from "../../server/auth/totp.js";
import { silentLogger } from "../../server/logger.js";
import { createSessionModule, type SessionModule } from "../../server/rpc/session-module.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import type { TokenService } from "../../server/tokens/token-service.js";
import { createErrorMappingInterceptor } from "../../server/transport/error-mapping.js";
import { peerAddressKey } from "../../server/transport/request-meta.js";

export const TEST_IP = "203.0.113.7";
export const TEST_USER_AGENT = "session-tests/1.0";

export interface TestUser {
  id: string;
  username: string;
  totpSecret: string;
  recoveryCodes: string[];
}

let userCounter = 0;

/** An active account with TOTP and ten recovery codes; distinct name per call. */
export async function createActiveUser(ctx: AppContext, options: { status?: "active" | "pending"; prefix?: string } = {}): Promise<TestUser> {
  const id = randomUUID();
  const username = `${options.prefix ?? "user"}-${++userCounter}-${randomBytes(3).toString("hex")}`;
  const totpSecret = newTotpSecret();
  const recoveryCodes = generateRecoveryCodes();
  const now = ctx.clock.now();
  await ctx.db
    .insertInto("users")
    .values({
      id,
      username,
      status: options.status ?? "active",
      opaque_record: new Uint8Array(randomBytes(129)),
      created_at: now,
      activated_at: options.status === "pending" ? null : now,
      enrollment_expires_at: options.status === "pending" ? new Date(now.getTime() + 300_000) : null,
      totp_secret_encrypted: seal(ctx.keys.totpEncryptionKey, totpSecret, id),
    })
    .execute();
  const pepper = recoveryCodePepper(ctx.keys.totpEncryptionKey);
  await ctx.db
    .insertInto("recovery_codes")
    .values(recoveryCodes.map((code) => ({ user_id: id, code_hash: hashRecoveryCode(pepper, code), created_at: now })))
    .execute();
  return { id, username, totpSecret, recoveryCodes };
}

export interface SessionHarness {
  ctx: AppContext;
  tokens: TokenService;
  module: SessionModule;
  /** The public port's SessionService. */
  client: Client<typeof SessionService>;
  /** The internal port's SessionService (WatchRevocations streams every account's revocations). */
  internalClient: Client<typeof SessionService>;
  /** A login token as AuthService.LoginFinish issues it (`sub` = user id, `username`). */
  loginToken(user: TestUser): Promise<string>;
  /** The TOTP code at the context clock's now (or `offsetSteps` 30-second steps away). */
  totp(user: TestUser, offsetSteps?: number): Promise<string>;
  /** Logs `user` in with a fresh login token and the current TOTP code. */
  login(user: TestUser, deviceName?: string): Promise<{ sessionId: string; accessToken: string; refreshToken: string }>;
  close(): Promise<void>;
}

/** Call options carrying the test client's user agent (its IP is set by the harness's router). */
export function callOptions(headers: Record<string, string> = {}, onHeader?: (headers: Headers) => void) {
  return { headers: { "user-agent": TEST_USER_AGENT, ...headers }, onHeader };
}

/**
 * Plays the listener's part: the in-memory transport drops client-side context values, so the
 * peer address is set on the server side, as connect-node's `contextValues` would.
 */
const peerAddress: Interceptor = (next) => (req) => {
  req.contextValues.set(peerAddressKey, TEST_IP);
  return next(req);
};

export function bearer(accessToken: string, extra: Record<string, string> = {}) {
  return callOptions({ authorization: `Bearer ${accessToken}`, ...extra });
}

export async function createSessionHarness(ctx: AppContext, options: { tokens?: TokenService } = {}): Promise<SessionHarness> {
  const tokens = options.tokens ?? (await createPasetoTokenService(ctx.keys, ctx.clock));
  const module = await createSessionModule(ctx, tokens);
  const clientOf = (service: SessionModule["service"]) =>
    createClient(
      SessionService,
      createRouterTransport((router) => router.service(SessionService, service), {
        router: { interceptors: [peerAddress, createErrorMappingInterceptor(silentLogger)] },
      }),
    );
  const client = clientOf(module.service);
  const harness: SessionHarness = {
    ctx,
    tokens,
    module,
    client,
    internalClient: clientOf(module.internalService),
    loginToken: async (user) =>
      (await tokens.issue("login", { sub: user.id, username: user.username }, { ttlSeconds: ctx.config.tokens.loginTtlSeconds })).token,
    totp: (user, offsetSteps = 0) => totpCodeAt(user.totpSecret, new Date(ctx.clock.now().getTime() + offsetSteps * 30_000)),
    login: async (user, deviceName = "test device") => {
      const res = await client.createSession(
        { loginToken: await harness.loginToken(user), secondFactor: { case: "totpCode", value: await harness.totp(user) }, deviceName },
        callOptions(),
      );
      return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken, refreshToken: res.tokens!.refreshToken };
    },
    close: () => module.close(),
  };
  return harness;
}

/** Moves the clock to the start of the next TOTP step, so the next code is one not used yet. */
export function nextTotpStep(ctx: AppContext & { clock: { advance(ms: number): void } }): void {
  const ms = ctx.clock.now().getTime();
  ctx.clock.advance(30_000 - (ms % 30_000));
}

/** Asserts that `call` fails with `code` and, for Unauthenticated, the ErrorInfo `reason`. */
export async function expectRpcError(call: Promise<unknown>, code: Code, reason?: string): Promise<ConnectError> {
  let error: unknown;
  try {
    await call;
  } catch (e) {
    error = e;
  }
  expect(error, "the call should have failed").toBeInstanceOf(ConnectError);
  const ce = error as ConnectError;
  expect(Code[ce.code]).toBe(Code[code]);
  if (reason !== undefined) {
    expect(ce.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual([reason]);
    expect(ce.rawMessage).toBe("authentication failed");
  }
  return ce;
}
