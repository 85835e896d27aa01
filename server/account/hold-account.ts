/**
 * The first step of every transaction that changes an account as a whole (lock, delete, end its
 * sessions): lock the account's row until commit. CreateSession locks the same row, so a session
 * cannot slip in between: either it commits first and is then ended, or it waits and then finds
 * the lock (or no account).
 */
import { notFound } from "../errors.js";
import type { Db } from "../storage/database.js";
import { lockLiveAccount } from "../storage/user-store.js";

/**
 * Locks the row of an existing account (active, or pending within its window); otherwise throws
 * `missing()` (NotFound by default).
 */
export async function holdAccount(trx: Db, userId: string, now: Date, missing: () => Error = () => notFound("user not found")): Promise<{ username: string }> {
  const row = await lockLiveAccount(trx, userId, now);
  if (!row) throw missing();
  return row;
}
