/**
 * Device credentials: the long-lived token CreateSession gives a device (CreateSessionResponse.
 * device_token, or the `__Host-cypher_device` cookie in browser mode), so that later LoginInits
 * from that device get an attempt budget of their own (auth/attempt-limits.ts).
 *
 * The token is 32 random bytes (base64url, 43 characters); the row names the account and the device
 * and holds only the token's SHA-256. Plain functions taking the db (or a transaction) first.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../storage/database.js";

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newDeviceToken(): { token: string; hash: Buffer } {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  return { token, hash: deviceTokenHash(token) };
}

export function deviceTokenHash(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Whether `token` has the shape of a device token (anything else is ignored without a query). */
export function isWellFormedDeviceToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** Stores a new device credential (inside CreateSession's transaction). */
export async function insertDeviceCredential(
  db: Db,
  credential: { userId: string; tokenHash: Uint8Array; deviceName: string; createdAt: Date; expiresAt: Date },
): Promise<string> {
  const { id } = await db
    .insertInto("device_credentials")
    .values({
      user_id: credential.userId,
      token_hash: credential.tokenHash,
      device_name: credential.deviceName,
      created_at: credential.createdAt,
      expires_at: credential.expiresAt,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return id;
}

/**
 * The id of the live device credential with this token hash IF it belongs to the active account
 * named `username`; null otherwise. One indexed query whatever the username, so a caller learns
 * nothing about whether the username exists.
 */
export async function findLiveDeviceCredential(db: Db, params: { tokenHash: Uint8Array; username: string; now: Date }): Promise<string | null> {
  const row = await db
    .selectFrom("device_credentials")
    .innerJoin("users", "users.id", "device_credentials.user_id")
    .select("device_credentials.id")
    .where("device_credentials.token_hash", "=", params.tokenHash)
    .where("device_credentials.revoked_at", "is", null)
    .where("device_credentials.expires_at", ">", params.now)
    .where("users.username", "=", params.username)
    .where("users.status", "=", "active")
    .executeTakeFirst();
  return row?.id ?? null;
}

/**
 * Revokes every live device credential of an account; call it inside the transaction that ends the
 * account's sessions ("log out everywhere", a password change). Returns how many were revoked.
 */
export async function revokeDeviceCredentials(db: Db, params: { userId: string; at: Date }): Promise<number> {
  const rows = await db
    .updateTable("device_credentials")
    .set({ revoked_at: params.at })
    .where("user_id", "=", params.userId)
    .where("revoked_at", "is", null)
    .returning("id")
    .execute();
  return rows.length;
}
