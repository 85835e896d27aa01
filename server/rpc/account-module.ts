/**
 * Wires AccountService from the AppContext and what the auth and session modules already hold:
 * their OPAQUE executor (same keys, same server identity, same worker pool and queue bound), the
 * session liveness (Bearer calls, and revocations announced to every instance) and a login-token
 * gate over the same KV keys as CreateSession's.
 *
 * Seams, no-ops until their implementations are wired in here: `secondFactorFailures` (the
 * per-account cap on wrong codes, second-factor-failures.ts) and `revokeDeviceCredentials`
 * (device-credentials.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import type { AppContext } from "../app-context.js";
import type { OpaqueExecutor } from "../auth/opaque/opaque-executor.js";
import { recoveryCodePepper } from "../auth/recovery-codes.js";
import { LoginTokenGate } from "../session/login-token-gate.js";
import type { SessionLiveness } from "../session/liveness/index.js";
import type { TokenService } from "../tokens/token-service.js";
import { createAccountService } from "./account-service.js";
import type { RevokeDeviceCredentials } from "../account/device-credentials.js";
import type { SecondFactorFailures } from "../account/second-factor-failures.js";

export interface AccountModuleParts {
  tokens: TokenService;
  opaque: OpaqueExecutor;
  /** Which live session a Bearer token is; ending sessions on every instance. */
  liveness: Pick<SessionLiveness, "sessionFor" | "revoke">;
  /** The per-account wrong-code cap, shared with CreateSession. */
  secondFactorFailures: SecondFactorFailures;
  /** Revokes the account's device credentials in the caller's transaction. */
  revokeDeviceCredentials: RevokeDeviceCredentials;
}

export function createAccountModule(ctx: AppContext, parts: AccountModuleParts): { service: ServiceImpl<typeof AccountService> } {
  const deps = {
    db: ctx.db,
    clock: ctx.clock,
    logger: ctx.logger,
    config: ctx.config,
    tokens: parts.tokens,
    opaque: parts.opaque,
    gate: new LoginTokenGate({ kv: ctx.kv, clock: ctx.clock, maxFailures: ctx.config.tokens.maxSecondFactorFailures }),
    revocations: parts.liveness,
    totpEncryptionKey: ctx.keys.totpEncryptionKey,
    recoveryPepper: recoveryCodePepper(ctx.keys.totpEncryptionKey),
    secondFactorFailures: parts.secondFactorFailures,
    revokeDeviceCredentials: parts.revokeDeviceCredentials,
  };
  return { service: createAccountService(deps, parts.liveness) };
}
