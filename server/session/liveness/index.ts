/** Session liveness (docs/architecture.md, "Session liveness"): the only way in from outside this folder. */
import type { SessionLiveness } from "./session-liveness.js";

export { createSessionLiveness, type SessionLiveness, type SessionLivenessConfig, type SessionLivenessPorts } from "./session-liveness.js";
export type { RevocationNotice, RevokeParams } from "./revocations.js";

/** What ends sessions on every instance (logout, refresh reuse, the account changes, the operator API). */
export type Revocations = Pick<SessionLiveness, "revoke">;
/** What keeps the shared copy current when a session is created or changed (create-session.ts, refresh-rotation.ts). */
export type SessionCache = Pick<SessionLiveness, "fill" | "replace">;
