/**
 * The `recovery_codes` table: only an HMAC of each code (auth/recovery-codes.ts says how codes are
 * made and checked). Plain functions taking the db (or a transaction) first.
 */
import type { Db } from "./database.js";

/** Stores `hashes` as new, unused codes of the account. */
export async function insertRecoveryCodes(db: Db, userId: string, hashes: Uint8Array[], at: Date): Promise<void> {
  if (hashes.length === 0) return;
  await db
    .insertInto("recovery_codes")
    .values(hashes.map((hash) => ({ user_id: userId, code_hash: hash, created_at: at })))
    .execute();
}

/** Every recovery code of the account is removed and `hashes` become its codes; returns how many were removed. */
export async function replaceRecoveryCodes(trx: Db, userId: string, hashes: Uint8Array[], at: Date): Promise<number> {
  const removed = await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).executeTakeFirst();
  await insertRecoveryCodes(trx, userId, hashes, at);
  return Number(removed.numDeletedRows);
}

/** The account's unused codes (their ids and HMACs). */
export async function unusedRecoveryCodes(db: Db, userId: string): Promise<Array<{ id: string; codeHash: Uint8Array }>> {
  const rows = await db.selectFrom("recovery_codes").select(["id", "code_hash"]).where("user_id", "=", userId).where("used_at", "is", null).execute();
  return rows.map((row) => ({ id: row.id, codeHash: row.code_hash }));
}

/** Marks one code used, only if it still is unused (of two concurrent uses, one wins). */
export async function markRecoveryCodeUsed(db: Db, codeId: string, at: Date): Promise<boolean> {
  const spent = await db.updateTable("recovery_codes").set({ used_at: at }).where("id", "=", codeId).where("used_at", "is", null).returning("id").executeTakeFirst();
  return spent !== undefined;
}
