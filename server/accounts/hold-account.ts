/**
 * The first step of every transaction that changes an account as a whole (lock, delete, end its
 * sessions): lock the account's row until commit. CreateSession locks the same row, so a session
 * cannot slip in between: either it commits first and is then ended, or it waits and then finds
 * the lock (or no account).
 */
import { live } from "../auth/accounts.js";
import { notFound } from "../errors.js";
import type { Db } from "../storage/database.js";

/** Locks the row of an existing account (active, or pending within its window); NotFound otherwise. */
export async function holdAccount(trx: Db, userId: string, now: Date): Promise<{ username: string }> {
  const row = await trx.selectFrom("users").select("username").where("id", "=", userId).where(live(now)).forUpdate().executeTakeFirst();
  if (!row) throw notFound("user not found");
  return row;
}
