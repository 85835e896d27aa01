/** What the AuthService handlers are built from (assembled by rpc/auth-module.ts). */
import type { AppContext } from "../app-context.js";
import type { TokenService } from "../tokens/token-service.js";
import type { AttemptLimits } from "./attempt-limits.js";
import type { OpaqueExecutor } from "./opaque/opaque-executor.js";

export interface AuthDeps extends AppContext {
  tokens: TokenService;
  opaque: OpaqueExecutor;
  limits: AttemptLimits;
  /** HMAC key for recovery-code hashes (derived once from the TOTP key). */
  recoveryCodePepper: Uint8Array;
}
