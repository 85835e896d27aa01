/**
 * AuthService, assembled: the OPAQUE worker pool, the attempt limits and the six handlers. The
 * handlers map messages to the domain functions in registration.ts, enrollment.ts and login.ts and
 * back; errors stay CypherErrors (transport/error-mapping.ts turns them into Connect errors).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import type { AppContext } from "../app-context.js";
import type { TokenService } from "../tokens/token-service.js";
import { requestMeta } from "../transport/request-meta.js";
import { deviceTokenFromCookie } from "../session/device-cookie.js";
import { isWebClient } from "../session/refresh-cookie.js";
import type { AuthDeps } from "../auth/auth-deps.js";
import { AttemptLimits } from "../auth/attempt-limits.js";
import { setupTotp, verifyTotpSetup } from "../auth/enrollment.js";
import { loginFinish, loginInit } from "../auth/login.js";
import { createInlineOpaqueExecutor, type OpaqueExecutor, opaqueServerKeys } from "../auth/opaque/opaque-executor.js";
import { OpaqueWorkerPool } from "../auth/opaque/opaque-worker-pool.js";
import { recoveryCodePepper } from "../auth/recovery-codes.js";
import { registerFinish, registerInit } from "../auth/registration.js";

export interface AuthModule {
  service: ServiceImpl<typeof AuthService>;
  /** The OPAQUE executor, shared with AccountService's password change (same keys and queue bound). */
  opaque: OpaqueExecutor;
  /** Stops the OPAQUE workers; calls still waiting for one fail with Unavailable. */
  close(): Promise<void>;
}

export interface AuthModuleOptions {
  /**
   * Where OPAQUE runs: "workers" (default: config.opaque.workerThreads threads, queue bounded by
   * config.opaque.maxQueuedCalls) or "inline" on the event loop (for the benchmark's baseline only).
   */
  opaque?: "workers" | "inline";
}

export async function createAuthModule(ctx: AppContext, tokens: TokenService, options: AuthModuleOptions = {}): Promise<AuthModule> {
  const keys = opaqueServerKeys(ctx.keys, ctx.config.serverIdentity);
  const opaque: OpaqueExecutor =
    options.opaque === "inline"
      ? createInlineOpaqueExecutor(keys)
      : await OpaqueWorkerPool.start({
          threads: ctx.config.opaque.workerThreads,
          maxQueued: ctx.config.opaque.maxQueuedCalls,
          keys,
          logger: ctx.logger,
        });
  if (opaque instanceof OpaqueWorkerPool) ctx.metrics?.watch({ opaquePool: () => opaque.stats() });
  const deps: AuthDeps = {
    ...ctx,
    tokens,
    opaque,
    limits: new AttemptLimits(ctx.kv, ctx.clock, ctx.config.rateLimits),
    recoveryCodePepper: recoveryCodePepper(ctx.keys.totpEncryptionKey),
  };
  return { service: createAuthService(deps), opaque, close: () => opaque.close() };
}

export function createAuthService(deps: AuthDeps): ServiceImpl<typeof AuthService> {
  const meta = (context: HandlerContext) => requestMeta(context);
  return {
    registerInit: (req, context) => registerInit(deps, req, meta(context)),
    async registerFinish(req, context) {
      const result = await registerFinish(deps, req, meta(context));
      return { enrollmentToken: result.enrollmentToken, enrollmentExpiresAt: timestampFromDate(result.enrollmentExpiresAt) };
    },
    setupTotp: (req) => setupTotp(deps, req),
    verifyTotpSetup: (req, context) => verifyTotpSetup(deps, req, meta(context)),
    loginInit: (req, context) => loginInit(deps, { username: req.username, ke1: req.ke1, deviceToken: deviceTokenOf(req.deviceToken, context) }, meta(context)),
    async loginFinish(req, context) {
      const result = await loginFinish(deps, req, meta(context));
      return { loginToken: result.loginToken, loginTokenExpiresAt: timestampFromDate(result.loginTokenExpiresAt) };
    },
  };
}

/** The device token from the request field, or in browser mode (`x-cypher-client: web`) from its cookie. */
function deviceTokenOf(field: string, context: HandlerContext): string | null {
  if (field !== "") return field;
  return isWebClient(context.requestHeader) ? deviceTokenFromCookie(context.requestHeader) : null;
}
