/**
 * The database's shape as kysely sees it: one interface per table, composed into `Database`.
 * Migrations in `migrations/` create exactly this; change both together.
 *
 * bytea columns come back as `Buffer` from pg and `Uint8Array` from PGlite: treat them as Uint8Array.
 * Times are always written from the application clock, never from SQL `now()`.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Updateable } from "kysely";

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
type Bytes = ColumnType<Uint8Array, Uint8Array, Uint8Array>;

/** A deleted account has no row (account/delete-account.ts). */
export type UserStatus = "pending" | "active";

/** An account. Pending until TOTP enrollment is confirmed; a pending row past `enrollment_expires_at` does not exist for any query. */
export interface UsersTable {
  id: Generated<string>;
  /** Normalized (NFKC, lower-case); unique. */
  username: string;
  /** UTS #39 confusable skeleton of the username (auth/username-skeleton.ts); look-alikes share it. */
  username_skeleton: ColumnType<string | null, string | null | undefined, string | null>;
  status: UserStatus;
  /** Serialized OPAQUE RegistrationRecord: not a password hash, useless without the OPRF seed. */
  opaque_record: Bytes;
  created_at: Timestamp;
  activated_at: NullableTimestamp;
  /** Pending accounts only: when the account and its enrollment token stop existing. */
  enrollment_expires_at: NullableTimestamp;
  /** SHA-256 of the enrollment token (the token itself is never stored). */
  enrollment_token_hash: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** Wrong codes given during enrollment; at the limit the enrollment token is burnt. */
  enrollment_failed_attempts: ColumnType<number, number | undefined, number>;
  /** AES-256-GCM (iv ‖ ciphertext ‖ tag) of the TOTP secret. */
  totp_secret_encrypted: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The last TOTP time step accepted; a step is accepted once (RFC 6238 §5.2). */
  totp_last_used_step: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  /** When the OPAQUE record was last replaced by a password change (null: never). */
  password_changed_at: NullableTimestamp;
  /** A new TOTP secret sealed like the current one, waiting for ReplaceTotpFinish. */
  totp_pending_secret_encrypted: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** When the current TOTP secret replaced an earlier one (null: the enrollment's, since activated_at). */
  totp_replaced_at: NullableTimestamp;
}

/** Step-up (reauth) tokens: only their SHA-256, bound to a session and its account, spent once. */
export interface ReauthTokensTable {
  token_hash: Bytes;
  user_id: string;
  session_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  spent_at: NullableTimestamp;
}

/** Single-use recovery codes, stored only as hashes. */
export interface RecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  code_hash: Bytes;
  created_at: Timestamp;
  used_at: NullableTimestamp;
}

/**
 * One logged-in device. Live while not revoked and not past `expires_at` (the absolute lifetime).
 * `user_id` has no foreign key (0003): a deleted account's revoked sessions stay, scrubbed, for the
 * revocation feed; every query joining users treats them as gone.
 */
export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  device_name: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_refreshed_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** Why it ended: logout, revoked, refresh_reuse, ... */
  revoked_reason: ColumnType<string | null, string | null | undefined, string | null>;
  /** The revoking transaction's number in commit order (the WatchRevocations cursor); int8 as a decimal string. */
  revocation_seq: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Every refresh token issued, as a chain per session: each records the token it replaced. */
export interface RefreshTokensTable {
  /** The token's `jti` claim. */
  id: string;
  session_id: string;
  /** 0 for the first token of a session, +1 per rotation. */
  generation: number;
  /** SHA-256 of the token string. */
  token_hash: Bytes;
  /** The token this one replaced (null for the first). */
  replaces_id: ColumnType<string | null, string | null | undefined, string | null>;
  issued_at: Timestamp;
  expires_at: Timestamp;
  /** Set once, atomically, when the token is exchanged (UPDATE … WHERE used_at IS NULL). */
  used_at: NullableTimestamp;
}

/**
 * A device that logged in (CreateSession's device_token): its own LoginInit attempt budget.
 * Live while not revoked and not past `expires_at`.
 */
export interface DeviceCredentialsTable {
  id: Generated<string>;
  user_id: string;
  /** SHA-256 of the device token (the token itself is never stored). */
  token_hash: Bytes;
  /** The session's device name when it was issued (for people reading the table). */
  device_name: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  /** Set by "log out everywhere" (and, later, a password change). */
  revoked_at: NullableTimestamp;
}

/** What happened, when, from where. Never a secret. */
export interface AuditLogTable {
  id: Generated<string>;
  at: Timestamp;
  event: string;
  user_id: ColumnType<string | null, string | null | undefined, string | null>;
  session_id: ColumnType<string | null, string | null | undefined, string | null>;
  username: ColumnType<string | null, string | null | undefined, string | null>;
  ip: ColumnType<string | null, string | null | undefined, string | null>;
  user_agent: ColumnType<string | null, string | null | undefined, string | null>;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
}

/** A locked account (AdminService.LockUser): logins fail as a wrong password does, no session can be made. */
export interface AccountLocksTable {
  user_id: string;
  locked_at: Timestamp;
  /** The operator's reason (not a secret, never shown to the user). */
  reason: string;
  /** Fingerprint of the admin key that locked it (first 8 hex digits of its SHA-256), never the key. */
  locked_by: string;
}

export interface Database {
  users: UsersTable;
  account_locks: AccountLocksTable;
  recovery_codes: RecoveryCodesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  device_credentials: DeviceCredentialsTable;
  audit_log: AuditLogTable;
  reauth_tokens: ReauthTokensTable;
}

export type Db = Kysely<Database>;

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
