/**
 * Deleting an account, in ONE transaction (the one Revocations.revoke opens, so the revocation is
 * numbered for WatchRevocations and announced to every instance only after commit):
 *   - every session of the account revoked (like a logout everywhere, reason account_deleted);
 *   - the reauth token spent;
 *   - the users row turned into a TOMBSTONE: status `deleted`, no OPAQUE record (zero bytes), no
 *     TOTP secret (current or pending), no enrollment token, username `deleted:<id>` (never a
 *     valid username, so the name is free for anyone at once, as a new user id);
 *   - recovery codes and reauth tokens removed; device credentials revoked (seam);
 *   - the username erased from the account's audit entries (they keep the user id); the
 *     `account.deleted` entry carries none.
 * Why a tombstone and not DELETE: the FKs cascade users -> sessions -> refresh_tokens. The revoked
 * sessions rows carry the revocation numbers WatchRevocations resumes from; deleting them would
 * hide this revocation from a watcher that reconnects later (and could move the feed's latest
 * number backwards). The rows stay, revoked; refresh tokens stay as hashes of dead tokens, so a
 * late RefreshSession answers TOKEN_REVOKED like after a logout.
 */
import { sql } from "kysely";
import { validateAll } from "../auth/validation.js";
import { unauthenticated } from "../errors.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { ClientContext } from "../client-context.js";
import type { AccountDeps, Caller } from "./account-deps.js";
import { spendReauthToken } from "./reauth-token.js";
import { requireReauthToken } from "./required-fields.js";

export async function deleteAccount(deps: AccountDeps, caller: Caller, input: { reauthToken: string }, meta: ClientContext): Promise<{ sessionsEnded: number }> {
  const [token] = validateAll(() => requireReauthToken(input.reauthToken));
  const at = deps.clock.now();
  const ended = await deps.revocations.revoke({
    userId: caller.userId,
    reason: "account_deleted",
    alsoAnnounce: [caller.sessionId],
    audit: async (trx, revokedIds) => {
      await spendReauthToken(trx, token, caller, at);
      if (!(await tombstoneAccount(trx, caller.userId, at))) throw unauthenticated("TOKEN_INVALID");
      await deps.revokeDeviceCredentials(trx, caller.userId);
      await trx.updateTable("audit_log").set({ username: null }).where("user_id", "=", caller.userId).execute();
      await recordAudit(trx, {
        at,
        event: "account.deleted",
        userId: caller.userId,
        sessionId: caller.sessionId,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: { sessions_ended: revokedIds.length },
      });
    },
  });
  return { sessionsEnded: ended.length };
}

/** Erases an active account's credentials and name, keeping the row (see above). False if not active. */
export async function tombstoneAccount(trx: Db, userId: string, at: Date): Promise<boolean> {
  const row = await trx
    .updateTable("users")
    .set({
      status: "deleted",
      deleted_at: at,
      username: sql<string>`'deleted:' || id::text`,
      opaque_record: new Uint8Array(0),
      totp_secret_encrypted: null,
      totp_pending_secret_encrypted: null,
      totp_last_used_step: null,
      enrollment_token_hash: null,
      enrollment_expires_at: null,
    })
    .where("id", "=", userId)
    .where("status", "=", "active")
    .returning("id")
    .executeTakeFirst();
  if (!row) return false;
  await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
  await trx.deleteFrom("reauth_tokens").where("user_id", "=", userId).execute();
  return true;
}
