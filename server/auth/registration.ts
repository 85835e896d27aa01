/**
 * RegisterInit and RegisterFinish. RegisterInit stores nothing (OPAQUE needs no server state
 * between the two steps: the OPRF key is derived from the seed and the username), so RegisterFinish
 * re-checks everything and is limited on its own.
 */
import { alreadyExists, resourceExhausted } from "../errors.js";
import type { ClientContext } from "../client-context.js";
import type { AuthDeps } from "./auth-deps.js";
import { enforce } from "./attempt-limits.js";
import { createPendingAccount, isUsernameTaken } from "../storage/user-store.js";
import { newEnrollmentToken } from "./enrollment-token.js";
import { checkRegistrationRecord, checkRegistrationRequest } from "./opaque/opaque-messages.js";
import { QUEUE_FULL_RETRY_MS } from "./opaque/opaque-worker-pool.js";
import { normalizeNewUsername } from "./username.js";
import { validateAll } from "./validation.js";

export async function registerInit(
  deps: AuthDeps,
  input: { username: string; registrationRequest: Uint8Array },
  meta: ClientContext,
): Promise<{ registrationResponse: Uint8Array; serverIdentity: string }> {
  const [username] = validateAll(
    () => normalizeNewUsername(input.username),
    () => checkRegistrationRequest(input.registrationRequest),
  );
  if (!deps.opaque.hasCapacity()) throw resourceExhausted(QUEUE_FULL_RETRY_MS, "the server is busy, try again shortly");
  // Counted before the lookup: RegisterInit necessarily tells whether a name is taken, so it must
  // not become a free enumeration oracle.
  enforce(await deps.limits.checkRegistration("init", meta.ip));
  if (await isUsernameTaken(deps.db, username, deps.clock.now())) {
    deps.metrics?.count("registration.username_taken");
    throw alreadyExists("username is taken");
  }
  const registrationResponse = await deps.opaque.registerInit(username, input.registrationRequest);
  return { registrationResponse, serverIdentity: deps.config.serverIdentity };
}

export async function registerFinish(
  deps: AuthDeps,
  input: { username: string; registrationRecord: Uint8Array },
  meta: ClientContext,
): Promise<{ enrollmentToken: string; enrollmentExpiresAt: Date }> {
  const [username] = validateAll(
    () => normalizeNewUsername(input.username),
    () => checkRegistrationRecord(input.registrationRecord),
  );
  enforce(await deps.limits.checkRegistration("finish", meta.ip));
  const { token, hash } = newEnrollmentToken();
  const createdAt = deps.clock.now();
  const expiresAt = new Date(createdAt.getTime() + deps.config.enrollment.ttlSeconds * 1000);
  await createPendingAccount(
    deps.db,
    { username, record: input.registrationRecord, tokenHash: hash, createdAt, expiresAt },
    { username, ip: meta.ip, userAgent: meta.userAgent },
  );
  deps.metrics?.count("registration.started");
  return { enrollmentToken: token, enrollmentExpiresAt: expiresAt };
}
