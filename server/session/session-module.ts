/**
 * Wires SessionService from an AppContext and a TokenService. `close()` stops following the
 * revocation channel (call it on shutdown, before the KV store closes).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import type { AppContext } from "../app-context.js";
import { recoveryCodePepper } from "../auth/recovery-codes.js";
import type { TokenService } from "../tokens/token-service.js";
import { LoginTokenGate } from "./login-token-gate.js";
import { Revocations } from "./revocation.js";
import { SessionAuthenticator } from "./session-authenticator.js";
import { SessionCache } from "./session-cache.js";
import { createSessionService } from "./session-service.js";
import { SessionTokens } from "./session-tokens.js";

export interface SessionModule {
  service: ServiceImpl<typeof SessionService>;
  close(): Promise<void>;
}

export async function createSessionModule(ctx: AppContext, tokens: TokenService): Promise<SessionModule> {
  const { db, kv, clock, logger } = ctx;
  const config = ctx.config.tokens;
  const sessionTokens = new SessionTokens(tokens, config);
  const cache = new SessionCache({ kv, db, clock, accessTtlSeconds: config.accessTtlSeconds });
  const revocations = new Revocations({ db, kv, cache, clock, logger, accessTtlSeconds: config.accessTtlSeconds });
  await revocations.start();
  const authenticator = new SessionAuthenticator({ tokens: sessionTokens, cache, revocations, db, clock });

  const service = createSessionService({
    db,
    clock,
    tokens,
    authenticator,
    revocations,
    create: {
      db,
      clock,
      logger,
      config,
      tokens,
      sessionTokens,
      gate: new LoginTokenGate({ kv, clock, maxFailures: config.maxSecondFactorFailures }),
      cache,
      totpEncryptionKey: ctx.keys.totpEncryptionKey,
      recoveryPepper: recoveryCodePepper(ctx.keys.totpEncryptionKey),
    },
    refresh: { db, clock, logger, config, sessionTokens, cache, revocations },
  });
  return { service, close: () => revocations.close() };
}
