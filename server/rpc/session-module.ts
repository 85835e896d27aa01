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
import { LocalSessionCache } from "../session/local-session-cache.js";
import { LoginTokenGate } from "../session/login-token-gate.js";
import { SecondFactorLockout } from "../session/second-factor-lockout.js";
import { Revocations } from "../session/revocation.js";
import { RevocationFeed } from "../session/revocation-feed.js";
import { SessionAuthenticator } from "../session/session-authenticator.js";
import { SessionCache } from "../session/session-cache.js";
import { createSessionService, type SessionServiceDeps } from "./session-service.js";
import { SessionTokens, type AccessClaims } from "../session/session-tokens.js";
import { VerifiedTokenCache } from "../session/verified-token-cache.js";
import { WatchStreamQuota } from "../session/watch-stream-quota.js";

export interface SessionModule {
  /** For the public port: WatchRevocations streams the caller's own account only (Bearer, capped). */
  service: ServiceImpl<typeof SessionService>;
  /** For the internal port (backends): WatchRevocations streams every account's revocations. */
  internalService: ServiceImpl<typeof SessionService>;
  /** For other Bearer services (AccountService): which live session a token is. */
  authenticator: SessionAuthenticator;
  /** The per-account cap on wrong second factors, shared with step-up (AccountService). */
  secondFactorLockout: SecondFactorLockout;
  /** Ends sessions on every instance (the operator API and the account changes use it too). */
  revocations: Revocations;
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
  const local = new LocalSessionCache({ kv, clock, ttlMs: options.localSessionTtlMs });
  const cache = new SessionCache({ kv, db, clock, accessTtlSeconds: config.accessTtlSeconds, local });
  const revocations = new Revocations({ db, kv, cache, clock, logger, accessTtlSeconds: config.accessTtlSeconds, metrics });
  const verified = new VerifiedTokenCache<AccessClaims>({ clock, maxEntries: options.verifiedTokenCacheEntries });
  revocations.listen((notice) => {
    if (notice.kind === "revoked") {
      verified.forgetSessions(notice.sessionIds);
      local.forget(notice.sessionIds);
    }
    // Broadcasts were missed: nothing kept in memory is trusted any more (the epoch check would
    // catch it anyway; this only makes it immediate).
    if (notice.kind === "restored") local.clear();
  });
  const feed = new RevocationFeed({
    db,
    clock,
    logger,
    revocations,
    accessTtlSeconds: config.accessTtlSeconds,
    pollIntervalMs: options.revocationPollIntervalMs,
  });
  await revocations.start();
  metrics?.watch({ verifiedTokenCache: () => verified.stats(), revocationWatchStreams: () => feed.streams });
  const secondFactorLockout = new SecondFactorLockout({
    kv,
    db,
    clock,
    settings: {
      maxFailures: ctx.config.rateLimits.secondFactorFailuresPerAccount,
      windowSeconds: ctx.config.rateLimits.secondFactorFailureWindowSeconds,
    },
  });
  const authenticator = new SessionAuthenticator({ tokens: sessionTokens, cache, revocations, db, clock, verified, local });

  const deps: SessionServiceDeps = {
    db,
    clock,
    tokens,
    authenticator,
    revocations,
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
      cache,
      totpEncryptionKey: ctx.keys.totpEncryptionKey,
      recoveryPepper: recoveryCodePepper(ctx.keys.totpEncryptionKey),
      metrics,
    },
    refresh: { db, clock, logger, config, sessionTokens, cache, revocations, metrics },
  };
  return {
    service: createSessionService(deps, { kind: "account", quota: new WatchStreamQuota(ctx.config.watchRevocations) }),
    internalService: createSessionService(deps, { kind: "all" }),
    authenticator,
    secondFactorLockout,
    revocations,
    endStreams: () => feed.endStreams(),
    close: async () => {
      feed.close();
      verified.clear();
      await revocations.close();
    },
  };
}
