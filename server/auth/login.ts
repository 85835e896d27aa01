/**
 * LoginInit and LoginFinish: the password half of login.
 *
 * LoginInit answers every well-formed request the same way, whether the username is an active
 * account, a pending one or unknown: attempt limits first (identical for all names), then the same
 * query, then the same authInit in a worker, against the real record or a fake one derived from the
 * name (fake-record.ts). Only the stored login state knows the difference (userId null), and a
 * login begun against a fake record fails at LoginFinish exactly like a wrong KE3.
 *
 * Order of the checks, cheapest refusal first: the per-IP limit (so a client over it never gets to
 * occupy the OPAQUE queue), then the queue's capacity (so a busy server does not spend one of the
 * user's attempts), then the device token if one was shown, then the per-username budget, or the
 * known device's own budget when the device token is valid for this username. A device token that
 * is malformed, unknown, revoked, expired or another account's is ignored without a word: the
 * lookup is one indexed query joined on the username, the same work for every name.
 *
 * Audit: a wrong password is invisible to the server (the client cannot open its envelope and never
 * sends a KE3), so "login.failed" is recorded when LoginFinish rejects a KE3 for a login the server
 * began, and "login.locked_out" when a username first runs out of attempts. A LoginInit that is never
 * finished is only counted (attempt-limits.ts), not audited: at LoginInit time it is not yet a
 * failure. LoginFinish with an unknown, expired or reused login_id is not audited either: it names no
 * account, and anyone could flood the log with random ids.
 */
import { timingSafeEqual } from "node:crypto";
import { invalidArgument, resourceExhausted, unauthenticated } from "../errors.js";
import { recordAudit } from "../storage/audit-log.js";
import type { ClientContext } from "../client-context.js";
import type { AuthDeps } from "./auth-deps.js";
import { findActiveAccount } from "../storage/user-store.js";
import { enforce } from "./attempt-limits.js";
import { deviceTokenHash, findLiveDeviceCredential, isWellFormedDeviceToken } from "../session/device-credential-store.js";
import { isWellFormedLoginId, newLoginId, saveLoginState, takeLoginState } from "./login-state.js";
import { deriveFakeRecord } from "./opaque/fake-record.js";
import { checkKe1, checkKe3, OPAQUE_SIZES } from "./opaque/opaque-messages.js";
import { QUEUE_FULL_RETRY_MS } from "./opaque/opaque-worker-pool.js";
import { normalizeUsername } from "./username.js";
import { validateAll } from "./validation.js";

export async function loginInit(
  deps: AuthDeps,
  input: { username: string; ke1: Uint8Array; deviceToken: string | null },
  meta: ClientContext,
): Promise<{ loginId: string; ke2: Uint8Array; serverIdentity: string }> {
  const [username] = validateAll(
    () => normalizeUsername(input.username),
    () => checkKe1(input.ke1),
  );
  enforce(await deps.limits.checkLoginIp(meta.ip));
  // Refuse an overloaded server's call before it spends one of the user's attempts.
  if (!deps.opaque.hasCapacity()) throw resourceExhausted(QUEUE_FULL_RETRY_MS, "the server is busy, try again shortly");

  const deviceCredentialId =
    input.deviceToken !== null && isWellFormedDeviceToken(input.deviceToken)
      ? await findLiveDeviceCredential(deps.db, { tokenHash: deviceTokenHash(input.deviceToken), username, now: deps.clock.now() })
      : null;
  const outcome = await deps.limits.checkLoginBudget(username, deviceCredentialId);
  if (!outcome.allowed && outcome.lockedOutNow) {
    await recordAudit(deps.db, {
      at: deps.clock.now(),
      event: "login.locked_out",
      username,
      ip: meta.ip,
      userAgent: meta.userAgent,
      details: { retryAfterSeconds: Math.ceil(outcome.retryAfterMs / 1000), known_device: deviceCredentialId !== null },
    });
    deps.metrics?.count("login.locked_out");
  }
  if (!outcome.allowed) deps.metrics?.count("login.rate_limited");
  enforce(outcome);

  const account = await findActiveAccount(deps.db, username);
  const record = account?.record ?? deriveFakeRecord(deps.keys.opaque.oprfSeed, username);
  const { ke2, expected } = await deps.opaque.authInit(username, input.ke1, record);
  const loginId = newLoginId();
  await saveLoginState(deps.kv, loginId, { userId: account?.id ?? null, username, deviceCredentialId, expected });
  deps.metrics?.count("login.started");
  return { loginId, ke2, serverIdentity: deps.config.serverIdentity };
}

export async function loginFinish(
  deps: AuthDeps,
  input: { loginId: string; ke3: Uint8Array },
  meta: ClientContext,
): Promise<{ loginToken: string; loginTokenExpiresAt: Date }> {
  validateAll(
    () => {
      if (input.loginId === "") throw invalidArgument({ field: "login_id", description: "required" });
    },
    () => checkKe3(input.ke3),
  );
  // A malformed id is simply not a login the server began.
  const state = isWellFormedLoginId(input.loginId) ? await takeLoginState(deps.kv, input.loginId) : null;
  if (!state) throw unauthenticated("TOKEN_INVALID");

  // What opaque-ts's AKE3DHServer.finish does: compare the KE3 (the client MAC) with the expected
  // client MAC, the first 32 bytes of the serialized ExpectedAuthResult, in constant time. Done for
  // fake logins too, so both take the same path.
  const expectedMac = state.expected.subarray(0, OPAQUE_SIZES.ke3);
  const macMatches = expectedMac.length === input.ke3.length && timingSafeEqual(expectedMac, input.ke3);
  const at = deps.clock.now();
  if (!macMatches || state.userId === null) {
    await recordAudit(deps.db, {
      at,
      event: "login.failed",
      userId: state.userId,
      username: state.username,
      ip: meta.ip,
      userAgent: meta.userAgent,
      details: { reason: state.userId === null ? "no_such_active_account" : "key_exchange_mismatch" },
    });
    deps.metrics?.count("login.password_rejected");
    throw unauthenticated("LOGIN_FAILED");
  }

  await deps.limits.resetLogin(state.username, state.deviceCredentialId);
  const issued = await deps.tokens.issue(
    "login",
    { sub: state.userId, username: state.username },
    { ttlSeconds: deps.config.tokens.loginTtlSeconds },
  );
  await recordAudit(deps.db, {
    at,
    event: "login.succeeded",
    userId: state.userId,
    username: state.username,
    ip: meta.ip,
    userAgent: meta.userAgent,
    details: { jti: issued.jti },
  });
  return { loginToken: issued.token, loginTokenExpiresAt: issued.expiresAt };
}
