/**
 * The queries AccountService runs on `users` and `recovery_codes`. Plain functions taking the db
 * (or a transaction) first. Every write is confined to an ACTIVE account, so a change racing a
 * deletion finds nothing to change.
 */
import type { Db } from "../storage/database.js";

export interface AccountView {
  id: string;
  username: string;
  createdAt: Date;
  passwordChangedAt: Date | null;
  totpEnrolledAt: Date | null;
  recoveryCodesRemaining: number;
}

export async function findAccountView(db: Db, userId: string): Promise<AccountView | undefined> {
  const row = await db
    .selectFrom("users")
    .select(["id", "username", "created_at", "password_changed_at", "activated_at", "totp_replaced_at"])
    .select((eb) =>
      eb
        .selectFrom("recovery_codes")
        .select((c) => c.fn.countAll<string>().as("n"))
        .whereRef("recovery_codes.user_id", "=", "users.id")
        .where("recovery_codes.used_at", "is", null)
        .as("recovery_codes_remaining"),
    )
    .where("id", "=", userId)
    .where("status", "=", "active")
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    username: row.username,
    createdAt: row.created_at,
    passwordChangedAt: row.password_changed_at,
    totpEnrolledAt: row.totp_replaced_at ?? row.activated_at,
    recoveryCodesRemaining: Number(row.recovery_codes_remaining ?? 0),
  };
}

/** What a second factor is checked against; locks the row (FOR UPDATE) inside a transaction. */
export async function lockActiveAccount(trx: Db, userId: string) {
  return trx
    .selectFrom("users")
    .select(["id", "username", "totp_secret_encrypted", "totp_last_used_step", "totp_pending_secret_encrypted", "password_changed_at"])
    .where("id", "=", userId)
    .where("status", "=", "active")
    .forUpdate()
    .executeTakeFirst();
}

/** Replaces the OPAQUE record. False when the account is not active. */
export async function replaceOpaqueRecord(trx: Db, userId: string, record: Uint8Array, at: Date): Promise<boolean> {
  const row = await trx
    .updateTable("users")
    .set({ opaque_record: record, password_changed_at: at })
    .where("id", "=", userId)
    .where("status", "=", "active")
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/** Stores (or replaces) the pending TOTP secret. False when the account is not active. */
export async function storePendingTotpSecret(db: Db, userId: string, sealed: Uint8Array): Promise<boolean> {
  const row = await db
    .updateTable("users")
    .set({ totp_pending_secret_encrypted: sealed })
    .where("id", "=", userId)
    .where("status", "=", "active")
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The pending secret becomes the current one; `step` (the confirming code's) is recorded as used,
 * so that code cannot also log in. Only if the pending secret is still `pending` (a parallel
 * ReplaceTotpInit may have replaced it).
 */
export async function promotePendingTotpSecret(trx: Db, userId: string, pending: Uint8Array, step: number, at: Date): Promise<boolean> {
  const row = await trx
    .updateTable("users")
    .set({ totp_secret_encrypted: pending, totp_pending_secret_encrypted: null, totp_last_used_step: step, totp_replaced_at: at })
    .where("id", "=", userId)
    .where("status", "=", "active")
    .where("totp_pending_secret_encrypted", "=", pending)
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/** Every recovery code of the account is removed and `hashes` become its codes. */
export async function replaceRecoveryCodes(trx: Db, userId: string, hashes: Uint8Array[], at: Date): Promise<number> {
  const removed = await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).executeTakeFirst();
  await trx
    .insertInto("recovery_codes")
    .values(hashes.map((hash) => ({ user_id: userId, code_hash: hash, created_at: at })))
    .execute();
  return Number(removed.numDeletedRows);
}
