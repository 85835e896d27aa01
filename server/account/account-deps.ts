/** What the AccountService handlers are built from (assembled by account-module.ts). */
import type { OpaqueExecutor } from "../auth/opaque/opaque-executor.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { LoginTokenGate } from "../session/login-token-gate.js";
import type { Revocations } from "../session/liveness/index.js";
import type { Db } from "../storage/database.js";
import type { TokenService } from "../tokens/token-service.js";
import type { RevokeDeviceCredentials } from "./device-credentials.js";
import type { SecondFactorFailures } from "./second-factor-failures.js";

export interface AccountDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: Config;
  tokens: TokenService;
  /** The same OPAQUE executor (and so the same keys and server identity) as AuthService. */
  opaque: OpaqueExecutor;
  /** Login tokens are single use across CreateSession and Reauthenticate (same KV keys). */
  gate: LoginTokenGate;
  revocations: Revocations;
  totpEncryptionKey: Uint8Array;
  recoveryPepper: Uint8Array;
  secondFactorFailures: SecondFactorFailures;
  revokeDeviceCredentials: RevokeDeviceCredentials;
}

/** The authenticated caller: the session whose Bearer token made the call. */
export interface Caller {
  sessionId: string;
  userId: string;
  username: string;
}
