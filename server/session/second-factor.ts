/**
 * The second factor of CreateSession: a TOTP code or a recovery code, checked and SPENT inside the
 * transaction that creates the session, so a code is never used up by an attempt that then fails.
 *
 * TOTP (RFC 6238): ±1 step, and each step accepted at most once per account (§5.2) through a
 * compare-and-set on the account's last used step (storage/user-store.ts, advanceTotpStep): of two
 * concurrent uses of one code exactly one moves the step forward, and a code read over a shoulder
 * cannot be replayed.
 */
import { open } from "../auth/secret-box.js";
import { consumeRecoveryCode, normalizeRecoveryCode } from "../auth/recovery-codes.js";
import { checkTotpCode, isWellFormedTotpCode } from "../auth/totp.js";
import { invalidArgument } from "../errors.js";
import type { Db } from "../storage/database.js";
import { advanceTotpStep } from "../storage/user-store.js";

export type SecondFactor = { kind: "totp"; code: string } | { kind: "recovery"; code: string };

/** The request's oneof, checked for shape; exactly one factor is required. */
export function parseSecondFactor(oneof: { case: "totpCode" | "recoveryCode"; value: string } | { case: undefined; value?: undefined }): SecondFactor {
  if (oneof.case === "totpCode") {
    // Authenticator apps show "123 456"; spaces are not part of the code.
    const code = oneof.value.replace(/\s/g, "");
    if (!isWellFormedTotpCode(code)) throw invalidArgument({ field: "totp_code", description: "must be the 6-digit code from the authenticator app" });
    return { kind: "totp", code };
  }
  if (oneof.case === "recoveryCode") {
    if (normalizeRecoveryCode(oneof.value) === null) throw invalidArgument({ field: "recovery_code", description: "must be a recovery code like xxxx-xxxx-xxxx" });
    return { kind: "recovery", code: oneof.value };
  }
  throw invalidArgument({ field: "second_factor", description: "exactly one of totp_code or recovery_code is required" });
}

export interface SecondFactorAccount {
  id: string;
  totpSecretEncrypted: Uint8Array;
  totpLastUsedStep: number | null;
}

/**
 * Checks the factor and spends it (the TOTP step, or the recovery code). Call inside the
 * transaction that creates the session. Returns false for a wrong, replayed or used code.
 */
export async function spendSecondFactor(
  trx: Db,
  params: { account: SecondFactorAccount; factor: SecondFactor; at: Date; totpEncryptionKey: Uint8Array; recoveryPepper: Uint8Array },
): Promise<boolean> {
  const { account, factor, at } = params;
  if (factor.kind === "recovery") {
    return consumeRecoveryCode(trx, { userId: account.id, code: factor.code, pepper: params.recoveryPepper, at });
  }
  const secret = open(params.totpEncryptionKey, account.totpSecretEncrypted, account.id);
  // A secret that does not open is the server's problem (wrong key configured), not the user's.
  if (secret === null) throw new Error("a TOTP secret does not decrypt with the configured TOTP_ENCRYPTION_KEY");
  const check = await checkTotpCode({ secret, code: factor.code, at, lastUsedStep: account.totpLastUsedStep });
  if (!check.valid) return false;
  return advanceTotpStep(trx, account.id, check.step);
}
