/**
 * The `users` table: every query on an account's row, for registration and enrollment (auth/),
 * login, CreateSession and RefreshSession (session/), the owner's and the operator's changes
 * (account/). Plain functions taking the db first, so a caller can pass a transaction and group
 * writes in it. (The operator's read-only view of accounts is user-directory.ts.)
 *
 * A pending account past `enrollment_expires_at` does not exist for any query here: every query
 * that can see a pending row carries the expiry condition, with `now` from the application clock.
 * The periodic sweep (storage/sweep-expired-enrollments.ts) only reclaims the space.
 */
import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import { sql } from "kysely";
import { usernameSkeleton } from "../auth/username-skeleton.js";
import { alreadyExists } from "../errors.js";
import { notLocked } from "./account-lock-store.js";
import { type AuditEntry, recordAudit } from "./audit-log.js";
import type { Database, Db } from "./database.js";
import { insertRecoveryCodes } from "./recovery-code-store.js";

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
    status: row.status,
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
    await insertRecoveryCodes(trx, params.userId, params.recoveryCodeHashes, params.at);
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

/** Whether any account row exists (key material may be generated only for an empty deployment). */
export async function hasAnyAccount(db: Db): Promise<boolean> {
  const rows = await db.selectFrom("users").select("id").limit(1).execute();
  return rows.length > 0;
}

/**
 * Removes up to `limit` pending accounts whose enrollment window closed at or before `now`, rows
 * claimed with FOR UPDATE SKIP LOCKED (two sweepers never wait on each other); their children go by
 * ON DELETE CASCADE. Returns the ids and usernames removed.
 */
export async function removeExpiredPendingAccounts(trx: Db, now: Date, limit: number): Promise<Array<{ id: string; username: string }>> {
  return trx
    .deleteFrom("users")
    .where("id", "in", (qb) =>
      qb
        .selectFrom("users")
        .select("id")
        .where("status", "=", "pending")
        .where("enrollment_expires_at", "<=", now)
        .limit(limit)
        .modifyEnd(sql`for update skip locked`),
    )
    // Checked again on the locked rows: an enrollment confirmed meanwhile is not removed.
    .where("status", "=", "pending")
    .where("enrollment_expires_at", "<=", now)
    .returning(["id", "username"])
    .execute();
}

/** What the owner's account page shows (GetAccount). Active accounts only. */
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

/** An active account as a second factor is checked against it (CreateSession, Reauthenticate, ReplaceTotpFinish). */
export interface SecondFactorAccountRow {
  id: string;
  username: string;
  totpSecretEncrypted: Uint8Array | null;
  /** The last TOTP step accepted (null: none yet). */
  totpLastUsedStep: number | null;
  totpPendingSecretEncrypted: Uint8Array | null;
  passwordChangedAt: Date | null;
}

/**
 * The active account, its row locked (FOR UPDATE) until the caller's transaction ends: a lock, a
 * deletion or another change of the account (which lock the row first) either commits before and
 * is seen, or waits for this transaction.
 */
export async function lockActiveAccount(trx: Db, userId: string): Promise<SecondFactorAccountRow | undefined> {
  const row = await trx
    .selectFrom("users")
    .select(["id", "username", "totp_secret_encrypted", "totp_last_used_step", "totp_pending_secret_encrypted", "password_changed_at"])
    .where("id", "=", userId)
    .where("status", "=", "active")
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    username: row.username,
    totpSecretEncrypted: row.totp_secret_encrypted,
    // bigint: a string from pg; steps (~5.9e7 today) are far inside Number's range.
    totpLastUsedStep: row.totp_last_used_step === null ? null : Number(row.totp_last_used_step),
    totpPendingSecretEncrypted: row.totp_pending_secret_encrypted,
    passwordChangedAt: row.password_changed_at,
  };
}

/** Locks the row of a live account (active, or pending within its window); undefined if there is none. */
export async function lockLiveAccount(trx: Db, userId: string, now: Date): Promise<{ username: string } | undefined> {
  return trx.selectFrom("users").select("username").where("id", "=", userId).where(live(now)).forUpdate().executeTakeFirst();
}

/**
 * Records `step` as the account's last accepted TOTP step, only if it is later than the one
 * recorded (compare-and-set): of two concurrent uses of one code exactly one moves it forward.
 */
export async function advanceTotpStep(trx: Db, userId: string, step: number): Promise<boolean> {
  const moved = await trx
    .updateTable("users")
    .set({ totp_last_used_step: step })
    .where("id", "=", userId)
    .where((eb) => eb.or([eb("totp_last_used_step", "is", null), eb("totp_last_used_step", "<", String(step))]))
    .returning("id")
    .executeTakeFirst();
  return moved !== undefined;
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

/**
 * Removes the account's row, and with it (ON DELETE CASCADE) its OPAQUE record and TOTP secrets,
 * recovery codes, device credentials, reauth tokens and lock. Its sessions rows stay (no foreign
 * key since migration 0003): see account/delete-account.ts. False if there was no such row.
 */
export async function removeAccount(trx: Db, userId: string): Promise<boolean> {
  const row = await trx.deleteFrom("users").where("id", "=", userId).returning("id").executeTakeFirst();
  return row !== undefined;
}
