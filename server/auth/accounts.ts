/**
 * The queries AuthService runs on `users` (and `recovery_codes`). Plain functions taking the db
 * first, so a caller can pass a transaction.
 *
 * A pending account past `enrollment_expires_at` does not exist for any query here: every query
 * that can see a pending row carries the expiry condition, with `now` from the application clock.
 * The periodic sweep (storage/sweep-expired-enrollments.ts) only reclaims the space.
 */
import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import { alreadyExists } from "../errors.js";
import { type AuditEntry, recordAudit } from "../storage/audit-log.js";
import type { Database, Db } from "../storage/database.js";
import { notLocked } from "../accounts/account-locks.js";
import { usernameSkeleton } from "./username-skeleton.js";

/** Rows that exist: active accounts, and pending ones whose enrollment window is still open. */
export function live(now: Date) {
  return (eb: ExpressionBuilder<Database, "users">): Expression<SqlBool> =>
    eb.or([eb("status", "=", "active"), eb.and([eb("status", "=", "pending"), eb("enrollment_expires_at", ">", now)])]);
}

function livePending(now: Date) {
  return (eb: ExpressionBuilder<Database, "users">): Expression<SqlBool> =>
    eb.and([eb("status", "=", "pending"), eb("enrollment_expires_at", ">", now)]);
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}

/** Whether a live account has this username, or one that looks like it (the same confusable skeleton). */
export async function isUsernameTaken(db: Db, username: string, now: Date): Promise<boolean> {
  const row = await db
    .selectFrom("users")
    .select("id")
    .where((eb) => eb.or([eb("username", "=", username), eb("username_skeleton", "=", usernameSkeleton(username))]))
    .where(live(now))
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The OPAQUE record of an account that may log in (active and not locked), or undefined: a locked
 * account then takes the unknown-account path (a fake record), so its login fails exactly as a
 * wrong password does.
 */
export async function findActiveAccount(db: Db, username: string): Promise<{ id: string; record: Uint8Array } | undefined> {
  const row = await db
    .selectFrom("users")
    .select(["id", "opaque_record"])
    .where("username", "=", username)
    .where("status", "=", "active")
    .where(notLocked)
    .executeTakeFirst();
  return row ? { id: row.id, record: new Uint8Array(row.opaque_record) } : undefined;
}

/**
 * Creates a pending account, in one transaction: an expired pending row holding the username is
 * removed first (the username is free), then the new row is inserted. A concurrent registration
 * of the same username loses on the unique index: AlreadyExists.
 */
export async function createPendingAccount(
  db: Db,
  account: { username: string; record: Uint8Array; tokenHash: Uint8Array; createdAt: Date; expiresAt: Date },
  audit: Omit<AuditEntry, "event" | "userId" | "at">,
): Promise<string> {
  try {
    return await db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom("users")
        .where("username", "=", account.username)
        .where("status", "=", "pending")
        .where("enrollment_expires_at", "<=", account.createdAt)
        .execute();
      // A live look-alike (same confusable skeleton) takes the name as surely as the name itself.
      if (await isUsernameTaken(trx, account.username, account.createdAt)) throw alreadyExists("username is taken");
      const { id } = await trx
        .insertInto("users")
        .values({
          username: account.username,
          username_skeleton: usernameSkeleton(account.username),
          status: "pending",
          opaque_record: account.record,
          created_at: account.createdAt,
          enrollment_expires_at: account.expiresAt,
          enrollment_token_hash: account.tokenHash,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      await recordAudit(trx, { ...audit, at: account.createdAt, event: "account.registered", userId: id });
      return id;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw alreadyExists("username is taken");
    throw error;
  }
}

export interface Enrollment {
  id: string;
  username: string;
  status: "pending" | "active";
  sealedTotpSecret: Uint8Array | null;
  failedAttempts: number;
}

/** The account an enrollment token belongs to: active, or pending and unexpired; else undefined. */
export async function findEnrollment(db: Db, tokenHash: Uint8Array, now: Date): Promise<Enrollment | undefined> {
  const row = await db
    .selectFrom("users")
    .select(["id", "username", "status", "totp_secret_encrypted", "enrollment_failed_attempts"])
    .where("enrollment_token_hash", "=", tokenHash)
    .where(live(now))
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    username: row.username,
    // live(now) admits only active and pending rows.
    status: row.status as Enrollment["status"],
    sealedTotpSecret: row.totp_secret_encrypted ? new Uint8Array(row.totp_secret_encrypted) : null,
    failedAttempts: row.enrollment_failed_attempts,
  };
}

/** Stores (or replaces) a pending account's sealed TOTP secret. False if the account is no longer pending. */
export async function storeTotpSecret(db: Db, userId: string, sealed: Uint8Array, now: Date): Promise<boolean> {
  const row = await db
    .updateTable("users")
    .set({ totp_secret_encrypted: sealed })
    .where("id", "=", userId)
    .where(livePending(now))
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Spends one of the enrollment's code attempts BEFORE the code is checked, atomically, so parallel
 * guesses cannot test more than `maxAttempts` codes between them. Returns the attempts spent so far
 * (this one included) and the sealed secret as of now, or undefined when none is left (or the
 * account is gone, expired or no longer pending).
 */
export async function reserveEnrollmentAttempt(
  db: Db,
  userId: string,
  maxAttempts: number,
  now: Date,
): Promise<{ attempts: number; sealedTotpSecret: Uint8Array | null } | undefined> {
  const row = await db
    .updateTable("users")
    .set((eb) => ({ enrollment_failed_attempts: eb("enrollment_failed_attempts", "+", 1) }))
    .where("id", "=", userId)
    .where(livePending(now))
    .where("enrollment_failed_attempts", "<", maxAttempts)
    .returning(["enrollment_failed_attempts", "totp_secret_encrypted"])
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    attempts: row.enrollment_failed_attempts,
    sealedTotpSecret: row.totp_secret_encrypted ? new Uint8Array(row.totp_secret_encrypted) : null,
  };
}

/**
 * Activates a pending account in one transaction: status, activation time, the TOTP step just
 * used (so the same code cannot log in), the recovery code hashes and the audit entry. The
 * enrollment token hash stays, so a late SetupTotp with it answers "already completed". False if
 * the account is no longer a live pending one.
 */
export async function activateAccount(
  db: Db,
  params: { userId: string; totpStep: number; recoveryCodeHashes: Uint8Array[]; at: Date },
  audit: Omit<AuditEntry, "event" | "userId" | "at">,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable("users")
      .set({ status: "active", activated_at: params.at, enrollment_expires_at: null, totp_last_used_step: params.totpStep })
      .where("id", "=", params.userId)
      .where(livePending(params.at))
      .returning("id")
      .executeTakeFirst();
    if (!row) return false;
    await trx
      .insertInto("recovery_codes")
      .values(params.recoveryCodeHashes.map((hash) => ({ user_id: params.userId, code_hash: hash, created_at: params.at })))
      .execute();
    await recordAudit(trx, { ...audit, at: params.at, event: "enrollment.confirmed", userId: params.userId });
    return true;
  });
}

/** Deletes a pending account whose enrollment was burnt (too many wrong codes), freeing its username. */
export async function deletePendingAccount(db: Db, userId: string, audit: Omit<AuditEntry, "userId">): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await trx.deleteFrom("users").where("id", "=", userId).where("status", "=", "pending").returning("id").executeTakeFirst();
    if (row) await recordAudit(trx, { ...audit, userId });
  });
}
