/**
 * Replacing the authenticator. ReplaceTotpInit (reauth token checked, not spent) stores a new
 * secret, sealed and bound to the account like the enrollment's, as PENDING: the current secret
 * keeps working. ReplaceTotpFinish, with a valid code of the NEW secret, makes it the current one
 * and spends the reauth token, in one transaction; from then on the old secret's codes are refused.
 * The confirming code's step is recorded as used, so that code cannot also log in. A wrong code
 * counts toward the per-account second-factor cap and spends nothing.
 */
import QRCode from "qrcode";
import { open, seal } from "../auth/secret-box.js";
import { checkTotpCode, isWellFormedTotpCode, newTotpSecret, totpUri } from "../auth/totp.js";
import { validateAll } from "../auth/validation.js";
import { failedPrecondition, invalidArgument, unauthenticated } from "../errors.js";
import { recordAudit } from "../storage/audit-log.js";
import type { ClientContext } from "../client-context.js";
import type { AccountDeps, Caller } from "./account-deps.js";
import { lockActiveAccount, promotePendingTotpSecret, storePendingTotpSecret } from "../storage/user-store.js";
import { checkReauthToken, spendReauthToken } from "./reauth-token.js";
import { requireReauthToken } from "./required-fields.js";

class WrongCode extends Error {}

export async function replaceTotpInit(
  deps: AccountDeps,
  caller: Caller,
  input: { reauthToken: string },
): Promise<{ secret: string; otpauthUri: string; qrCodePng: Uint8Array }> {
  const [token] = validateAll(() => requireReauthToken(input.reauthToken));
  await checkReauthToken(deps.db, token, caller, deps.clock.now());
  const secret = newTotpSecret();
  if (!(await storePendingTotpSecret(deps.db, caller.userId, seal(deps.totpEncryptionKey, secret, caller.userId)))) {
    throw unauthenticated("TOKEN_INVALID");
  }
  const otpauthUri = totpUri({ issuer: deps.config.totpIssuer, username: caller.username, secret });
  const qrCodePng = new Uint8Array(await QRCode.toBuffer(otpauthUri, { type: "png", errorCorrectionLevel: "M", margin: 2, scale: 6 }));
  return { secret, otpauthUri, qrCodePng };
}

export async function replaceTotpFinish(deps: AccountDeps, caller: Caller, input: { reauthToken: string; code: string }, meta: ClientContext): Promise<void> {
  const [token, code] = validateAll(
    () => requireReauthToken(input.reauthToken),
    () => {
      const code = input.code.replace(/\s/g, "");
      if (!isWellFormedTotpCode(code)) throw invalidArgument({ field: "code", description: "must be the 6 digits shown for the new secret" });
      return code;
    },
  );
  const at = deps.clock.now();
  // The token first: without a valid one, no code is tested and nothing is counted.
  await checkReauthToken(deps.db, token, caller, at);
  const attempt = await deps.secondFactorFailures.reserve({ userId: caller.userId, username: caller.username, ip: meta.ip, userAgent: meta.userAgent });
  try {
    await deps.db.transaction().execute(async (trx) => {
      const account = await lockActiveAccount(trx, caller.userId);
      if (!account) throw unauthenticated("TOKEN_INVALID");
      const pending = account.totpPendingSecretEncrypted;
      if (pending === null) throw failedPrecondition("call ReplaceTotpInit before ReplaceTotpFinish");
      const secret = open(deps.totpEncryptionKey, pending, caller.userId);
      if (secret === null) throw new Error("a pending TOTP secret does not decrypt with the configured TOTP_ENCRYPTION_KEY");
      // A new secret has no used steps yet (the account's last step belongs to the old one).
      const check = await checkTotpCode({ secret, code, at, lastUsedStep: null });
      if (!check.valid) throw new WrongCode();
      await spendReauthToken(trx, token, caller, at);
      if (!(await promotePendingTotpSecret(trx, caller.userId, new Uint8Array(pending), check.step, at))) throw unauthenticated("TOKEN_INVALID");
      await recordAudit(trx, {
        at,
        event: "account.totp_replaced",
        userId: caller.userId,
        sessionId: caller.sessionId,
        username: caller.username,
        ip: meta.ip,
        userAgent: meta.userAgent,
      });
    });
    await attempt.succeeded().catch((error: unknown) => deps.logger.warn("could not clear a second-factor count", { error }));
  } catch (error) {
    if (!(error instanceof WrongCode)) throw error;
    await attempt.failed();
    await recordAudit(deps.db, {
      at,
      event: "account.totp_replacement_failed",
      userId: caller.userId,
      sessionId: caller.sessionId,
      username: caller.username,
      ip: meta.ip,
      userAgent: meta.userAgent,
      details: { reason: "wrong_new_authenticator_value" },
    });
    throw unauthenticated("SECOND_FACTOR_INVALID");
  }
}
