/**
 * New recovery codes: in one transaction the reauth token is spent, every old code (used or not)
 * is removed and the new set's HMACs stored; the set is returned once and never again.
 */
import { generateRecoveryCodes, hashRecoveryCode } from "../auth/recovery-codes.js";
import { validateAll } from "../auth/validation.js";
import { recordAudit } from "../storage/audit-log.js";
import type { ClientContext } from "../client-context.js";
import type { AccountDeps, Caller } from "./account-deps.js";
import { replaceRecoveryCodes } from "../storage/recovery-code-store.js";
import { spendReauthToken } from "./reauth-token.js";
import { requireReauthToken } from "./required-fields.js";

export async function regenerateRecoveryCodes(deps: AccountDeps, caller: Caller, input: { reauthToken: string }, meta: ClientContext): Promise<string[]> {
  const [token] = validateAll(() => requireReauthToken(input.reauthToken));
  const codes = generateRecoveryCodes();
  const hashes = codes.map((c) => hashRecoveryCode(deps.recoveryPepper, c));
  const at = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await spendReauthToken(trx, token, caller, at);
    const replaced = await replaceRecoveryCodes(trx, caller.userId, hashes, at);
    await recordAudit(trx, {
      at,
      event: "account.recovery_codes_regenerated",
      userId: caller.userId,
      sessionId: caller.sessionId,
      username: caller.username,
      ip: meta.ip,
      userAgent: meta.userAgent,
      details: { replaced, issued: codes.length },
    });
  });
  return codes;
}
