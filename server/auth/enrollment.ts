/**
 * TOTP enrollment: SetupTotp hands out a secret for a pending account, VerifyTotpSetup activates the
 * account with a code from it and returns the recovery codes.
 *
 * Attempt limit, per enrollment, in the database: each VerifyTotpSetup spends one of
 * `enrollment.maxFailedCodes` attempts BEFORE its code is checked (atomic UPDATE … WHERE attempts <
 * max), so even parallel guesses test at most that many codes. A wrong code on the last attempt
 * burns the enrollment: the pending account is deleted (it could never be activated any more) and
 * its username is free again at once; the token then answers Unauthenticated like any unknown one.
 * SetupTotp does not reset the count (a new secret must not buy new guesses).
 */
import { failedPrecondition, invalidArgument, unauthenticated } from "../errors.js";
import type { ClientContext } from "../client-context.js";
import type { AuthDeps } from "./auth-deps.js";
import { activateAccount, deletePendingAccount, type Enrollment, findEnrollment, reserveEnrollmentAttempt, storeTotpSecret } from "../storage/user-store.js";
import { hashEnrollmentToken, isWellFormedEnrollmentToken } from "./enrollment-token.js";
import { generateRecoveryCodes, hashRecoveryCode } from "./recovery-codes.js";
import { open, seal } from "./secret-box.js";
import { checkTotpCode, isWellFormedTotpCode, newTotpSecret, totpUri } from "./totp.js";
import { validateAll } from "./validation.js";

function requireToken(token: string): string {
  if (token === "") throw invalidArgument({ field: "enrollment_token", description: "required" });
  return token;
}

/** The live enrollment for a token: Unauthenticated if there is none, FailedPrecondition once completed. */
async function pendingEnrollment(deps: AuthDeps, token: string): Promise<Enrollment> {
  // A malformed token is treated like an unknown one: both are simply not a valid credential.
  const enrollment = isWellFormedEnrollmentToken(token)
    ? await findEnrollment(deps.db, hashEnrollmentToken(token), deps.clock.now())
    : undefined;
  if (!enrollment) throw unauthenticated("TOKEN_INVALID");
  if (enrollment.status === "active") throw failedPrecondition("enrollment already completed");
  return enrollment;
}

export async function setupTotp(
  deps: AuthDeps,
  input: { enrollmentToken: string },
): Promise<{ secret: string; otpauthUri: string; qrCodePng: Uint8Array }> {
  const [token] = validateAll(() => requireToken(input.enrollmentToken));
  const enrollment = await pendingEnrollment(deps, token);
  const secret = newTotpSecret();
  // Bound to the account id: a sealed secret copied onto another row does not open.
  const sealed = seal(deps.keys.totpEncryptionKey, secret, enrollment.id);
  if (!(await storeTotpSecret(deps.db, enrollment.id, sealed, deps.clock.now()))) throw unauthenticated("TOKEN_INVALID");
  const otpauthUri = totpUri({ issuer: deps.config.totpIssuer, username: enrollment.username, secret });
  // Loaded on the first enrollment, not at start-up: an idle server never needs it.
  const { default: QRCode } = await import("qrcode");
  const qrCodePng = new Uint8Array(await QRCode.toBuffer(otpauthUri, { type: "png", errorCorrectionLevel: "M", margin: 2, scale: 6 }));
  return { secret, otpauthUri, qrCodePng };
}

export async function verifyTotpSetup(
  deps: AuthDeps,
  input: { enrollmentToken: string; code: string },
  meta: ClientContext,
): Promise<{ recoveryCodes: string[] }> {
  // Authenticator apps show "123 456": spaces are not part of the code.
  const [token, code] = validateAll(
    () => requireToken(input.enrollmentToken),
    () => {
      const code = input.code.replace(/\s/g, "");
      if (!isWellFormedTotpCode(code)) throw invalidArgument({ field: "code", description: "must be the 6 digits shown by the authenticator app" });
      return code;
    },
  );
  const enrollment = await pendingEnrollment(deps, token);
  if (enrollment.sealedTotpSecret === null) throw failedPrecondition("call SetupTotp before VerifyTotpSetup");

  const maxAttempts = deps.config.enrollment.maxFailedCodes;
  const attempt = await reserveEnrollmentAttempt(deps.db, enrollment.id, maxAttempts, deps.clock.now());
  if (!attempt || attempt.sealedTotpSecret === null) throw unauthenticated("TOKEN_INVALID");
  const secret = open(deps.keys.totpEncryptionKey, attempt.sealedTotpSecret, enrollment.id);
  // Not the client's doing: the key changed or the row was tampered with. Internal, logged by the transport.
  if (secret === null) throw new Error("stored TOTP secret does not decrypt");

  const at = deps.clock.now();
  const check = await checkTotpCode({ secret, code, at, lastUsedStep: null });
  if (!check.valid) {
    if (attempt.attempts >= maxAttempts) {
      await deletePendingAccount(deps.db, enrollment.id, {
        at,
        event: "enrollment.expired",
        username: enrollment.username,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: { reason: "too_many_wrong_attempts", attempts: attempt.attempts },
      });
      deps.metrics?.count("registration.second_factor_capped");
    }
    throw unauthenticated("SECOND_FACTOR_INVALID");
  }

  const recoveryCodes = generateRecoveryCodes();
  const activated = await activateAccount(
    deps.db,
    {
      userId: enrollment.id,
      totpStep: check.step,
      recoveryCodeHashes: recoveryCodes.map((c) => hashRecoveryCode(deps.recoveryCodePepper, c)),
      at,
    },
    { username: enrollment.username, ip: meta.ip, userAgent: meta.userAgent },
  );
  // Expired, burnt by a parallel wrong code, or activated by a parallel right one in the meantime.
  if (!activated) throw unauthenticated("TOKEN_INVALID");
  deps.metrics?.count("registration.completed");
  return { recoveryCodes };
}
