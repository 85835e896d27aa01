/**
 * Wires SessionService from an AppContext and a TokenService. `close()` stops following the
 * revocation channel (call it on shutdown, before the KV store closes); `endStreams()` ends every
 * open WatchRevocations stream, so that draining a port does not wait for them.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import type { AppContext } from "../app-context.js";
import { recoveryCodePepper } from "../auth/recovery-codes.js";
import type { TokenService } from "../tokens/token-service.js";
import { createSessionLiveness, type SessionLiveness } from "../session/liveness/index.js";
import { LoginTokenGate } from "../session/login-token-gate.js";
import { SecondFactorLockout } from "../session/second-factor-lockout.js";
import { RevocationFeed } from "../session/revocation-feed.js";
import { createSessionService, type SessionServiceDeps } from "./session-service.js";
import { SessionTokens } from "../session/session-tokens.js";
import { WatchStreamQuota } from "../session/watch-stream-quota.js";

export interface SessionModule {
  /** For the public port: WatchRevocations streams the caller's own account only (Bearer, capped). */
  service: ServiceImpl<typeof SessionService>;
  /** For the internal port (backends): WatchRevocations streams every account's revocations. */
  internalService: ServiceImpl<typeof SessionService>;
  /**
   * Which live session a token is (other Bearer services: AccountService), and ending sessions on
   * every instance (the operator API and the account changes use it too).
   */
  liveness: SessionLiveness;
  /** The per-account cap on wrong second factors, shared with step-up (AccountService). */
  secondFactorLockout: SecondFactorLockout;
  /** Ends every WatchRevocations stream normally (clients resume from their cursor). */
  endStreams(): void;
  close(): Promise<void>;
}

export interface SessionModuleOptions {
  /** Verified access tokens kept in memory (default 50,000; 0 turns the cache off). */
  verifiedTokenCacheEntries?: number;
  /** How often WatchRevocations looks for revocations whose broadcast was lost (default 5 s). */
  revocationPollIntervalMs?: number;
  /** How long an in-process copy of a live session may answer (default 2 s; 0 reads the KV store every call). */
  localSessionTtlMs?: number;
}

export async function createSessionModule(ctx: AppContext, tokens: TokenService, options: SessionModuleOptions = {}): Promise<SessionModule> {
  const { db, kv, clock, logger, metrics } = ctx;
  const config = ctx.config.tokens;
  const sessionTokens = new SessionTokens(tokens, config);
  const liveness = await createSessionLiveness(
    { db, kv, clock, logger, metrics, tokens: sessionTokens },
    {
      accessTtlSeconds: config.accessTtlSeconds,
      verifiedTokenCacheEntries: options.verifiedTokenCacheEntries,
      localSessionTtlMs: options.localSessionTtlMs,
    },
  );
  const feed = new RevocationFeed({ db, logger, liveness, pollIntervalMs: options.revocationPollIntervalMs });
  metrics?.watch({ revocationWatchStreams: () => feed.streams });
  const secondFactorLockout = new SecondFactorLockout({
    kv,
    db,
    clock,
    settings: {
      maxFailures: ctx.config.rateLimits.secondFactorFailuresPerAccount,
      windowSeconds: ctx.config.rateLimits.secondFactorFailureWindowSeconds,
    },
  });
  const deps: SessionServiceDeps = {
    db,
    clock,
    tokens,
    liveness,
    feed,
    create: {
      db,
      clock,
      logger,
      config,
      tokens,
      sessionTokens,
      gate: new LoginTokenGate({ kv, clock, maxFailures: config.maxSecondFactorFailures }),
      lockout: secondFactorLockout,
      cache: liveness,
      totpEncryptionKey: ctx.keys.totpEncryptionKey,
      recoveryPepper: recoveryCodePepper(ctx.keys.totpEncryptionKey),
      metrics,
    },
    refresh: { db, clock, logger, config, sessionTokens, cache: liveness, revocations: liveness, metrics },
  };
  return {
    service: createSessionService(deps, { kind: "account", quota: new WatchStreamQuota(ctx.config.watchRevocations) }),
    internalService: createSessionService(deps, { kind: "all" }),
    liveness,
    secondFactorLockout,
    endStreams: () => feed.endStreams(),
    close: async () => {
      feed.close();
      await liveness.close();
    },
  };
}
