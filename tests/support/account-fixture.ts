/**
 * AccountService tests at rpc level: AuthService, SessionService and AccountService over one
 * in-memory router transport with the production error mapping, on one test context. Records what
 * the two seams were asked (second-factor failures, device credentials) and lets a test make the
 * cap refuse.
 */
import { createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import { IdentityMemHardFn, type MemoryHardFn } from "@cloudflare/opaque-ts";
import { changePassword as changePasswordThroughDriver } from "../../client/change-password.js";
import { logIn } from "../../client/login.js";
import { inProcessOpaque, OpaqueClientError } from "../../client/opaque-client.js";
import { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { AdminService } from "../../gen/cypher/admin/v1/admin_pb.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { createAccountModule } from "../../server/rpc/account-module.js";
import { createAdminModule } from "../../server/rpc/admin-module.js";
import { createAuthModule, type AuthModule } from "../../server/rpc/auth-module.js";
import { totpCodeAt } from "../../server/auth/totp.js";
import { resourceExhausted } from "../../server/errors.js";
import { silentLogger } from "../../server/logger.js";
import { createSessionModule, type SessionModule } from "../../server/rpc/session-module.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import type { TokenService } from "../../server/tokens/token-service.js";
import { createErrorMappingInterceptor } from "../../server/transport/error-mapping.js";
import { peerAddressKey } from "../../server/transport/request-meta.js";
import { bearer, callOptions, nextTotpStep, TEST_IP, type TestUser } from "./session-fixture.js";
import type { TestContext } from "./test-context.js";

const peerAddress: Interceptor = (next) => (req) => {
  req.contextValues.set(peerAddressKey, TEST_IP);
  return next(req);
};

/** An admin key for contexts made with `ADMIN_API_KEYS: ADMIN_KEY` (test only). */
export const ADMIN_KEY = "test-admin-key-0123456789abcdefghijklmnop";

export interface AccountHarness {
  ctx: TestContext;
  tokens: TokenService;
  auth: Client<typeof AuthService>;
  session: Client<typeof SessionService>;
  account: Client<typeof AccountService>;
  /** AdminService on the same context: calls with ADMIN_KEY succeed when the context was made with ADMIN_API_KEYS=ADMIN_KEY. */
  admin: Client<typeof AdminService>;
  sessionModule: SessionModule;
  /** Every call the seams received, in order. */
  seamCalls: Array<{ seam: "check" | "recordFailure" | "revokeDeviceCredentials"; userId: string }>;
  /** Accounts the second-factor cap refuses (check throws ResourceExhausted). */
  capped: Set<string>;
  /** Accounts whose device-credential revocation fails (to see a change roll back whole). */
  failingDeviceRevocation: Set<string>;
  loginToken(user: { id: string; username: string }): Promise<string>;
  /** A session for `user` (signed login token + TOTP at a fresh step). */
  login(user: TestUser, device?: string): Promise<{ sessionId: string; accessToken: string; refreshToken: string }>;
  /** A reauth token for the session of `accessToken` (signed login token + TOTP at a fresh step). */
  reauth(user: TestUser, accessToken: string): Promise<string>;
  close(): Promise<void>;
}

export async function createAccountHarness(ctx: TestContext): Promise<AccountHarness> {
  const tokens = await createPasetoTokenService(ctx.keys, ctx.clock);
  const authModule: AuthModule = await createAuthModule(ctx, tokens);
  const sessionModule = await createSessionModule(ctx, tokens);
  const seamCalls: AccountHarness["seamCalls"] = [];
  const capped = new Set<string>();
  const failingDeviceRevocation = new Set<string>();
  const accountModule = createAccountModule(ctx, {
    tokens,
    opaque: authModule.opaque,
    liveness: sessionModule.liveness,
    secondFactorFailures: {
      reserve: async ({ userId }) => {
        seamCalls.push({ seam: "check", userId });
        if (capped.has(userId)) throw resourceExhausted(60_000);
        return {
          succeeded: async () => {},
          abandoned: async () => {},
          failed: async () => {
            seamCalls.push({ seam: "recordFailure", userId });
            return { failures: 1, lockedOut: false };
          },
        };
      },
    },
    revokeDeviceCredentials: async (_trx, userId) => {
      seamCalls.push({ seam: "revokeDeviceCredentials", userId });
      if (failingDeviceRevocation.has(userId)) throw new Error("device credentials unavailable (test)");
    },
  });
  const adminModule = createAdminModule(ctx, { revocations: sessionModule.liveness });
  const transport = createRouterTransport(
    (router) =>
      router
        .service(AuthService, authModule.service)
        .service(SessionService, sessionModule.service)
        .service(AccountService, accountModule.service)
        .service(AdminService, adminModule.service),
    { router: { interceptors: [peerAddress, createErrorMappingInterceptor(silentLogger)] } },
  );
  const h: AccountHarness = {
    ctx,
    tokens,
    auth: createClient(AuthService, transport),
    session: createClient(SessionService, transport),
    account: createClient(AccountService, transport),
    admin: createClient(AdminService, transport),
    sessionModule,
    seamCalls,
    capped,
    failingDeviceRevocation,
    loginToken: async (user) =>
      (await tokens.issue("login", { sub: user.id, username: user.username }, { ttlSeconds: ctx.config.tokens.loginTtlSeconds })).token,
    login: async (user, device = "test device") => {
      nextTotpStep(ctx);
      const res = await h.session.createSession(
        { loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await totpCodeAt(user.totpSecret, ctx.clock.now()) }, deviceName: device },
        callOptions(),
      );
      return { sessionId: res.session!.sessionId, accessToken: res.tokens!.accessToken, refreshToken: res.tokens!.refreshToken };
    },
    reauth: async (user, accessToken) => {
      nextTotpStep(ctx);
      const res = await h.account.reauthenticate(
        { loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await totpCodeAt(user.totpSecret, ctx.clock.now()) } },
        bearer(accessToken),
      );
      return res.reauthToken;
    },
    close: async () => {
      await sessionModule.close();
      await authModule.close();
    },
  };
  return h;
}

/**
 * The real opaque-ts client without key stretching (IdentityMemHardFn): scrypt costs only the
 * client's time, and many of it on a loaded machine would only slow the tests. Registration,
 * login and password change must all use the same one.
 */
export const TEST_MEM_HARD: MemoryHardFn = IdentityMemHardFn;

/** OPAQUE login through the client driver: a login token, or null when the client cannot finish (wrong password). */
export async function opaqueLoginToken(auth: Client<typeof AuthService>, username: string, password: string): Promise<string | null> {
  try {
    return (await logIn(auth, username, password, { opaque: inProcessOpaque(TEST_MEM_HARD), callOptions: callOptions() })).loginToken;
  } catch (err) {
    if (err instanceof OpaqueClientError && err.step === "finish") return null;
    throw err;
  }
}

/** ChangePasswordInit + the client's registerFinish + ChangePasswordFinish, through the client driver. */
export async function changePassword(
  account: Client<typeof AccountService>,
  accessToken: string,
  params: { reauthToken: string; username: string; newPassword: string; serverIdentity: string; keepOtherSessions?: boolean; memHard?: MemoryHardFn },
): Promise<void> {
  const { memHard, ...change } = params;
  await changePasswordThroughDriver(account, change, { opaque: inProcessOpaque(memHard ?? TEST_MEM_HARD), callOptions: bearer(accessToken) });
}
