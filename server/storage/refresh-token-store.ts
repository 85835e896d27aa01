/**
 * The `refresh_tokens` table: every refresh token issued, as a chain per session, each row holding
 * the token's SHA-256 and the token it replaced (session/refresh-rotation.ts says why). Plain
 * functions taking the db (or a transaction) first.
 */
import type { Db, RefreshTokenRow } from "./database.js";

/** Stores an issued refresh token (the first of a session, or the successor of `replacesId`). */
export async function insertRefreshToken(
  db: Db,
  token: { id: string; sessionId: string; generation: number; tokenHash: Uint8Array; replacesId?: string; issuedAt: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({
      id: token.id,
      session_id: token.sessionId,
      generation: token.generation,
      token_hash: token.tokenHash,
      replaces_id: token.replacesId ?? null,
      issued_at: token.issuedAt,
      expires_at: token.expiresAt,
    })
    .execute();
}

/**
 * Marks the token used if it is this session's, has this hash and is unused (UPDATE … WHERE used_at
 * IS NULL: of concurrent exchanges exactly one gets through). Its generation, or undefined.
 */
export async function spendRefreshToken(trx: Db, token: { id: string; sessionId: string; tokenHash: Uint8Array; at: Date }): Promise<number | undefined> {
  const spent = await trx
    .updateTable("refresh_tokens")
    .set({ used_at: token.at })
    .where("id", "=", token.id)
    .where("session_id", "=", token.sessionId)
    .where("token_hash", "=", token.tokenHash)
    .where("used_at", "is", null)
    .returning(["generation"])
    .executeTakeFirst();
  return spent?.generation;
}

export async function findRefreshToken(db: Db, id: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom("refresh_tokens").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The token that replaced `id`, its row locked (FOR UPDATE) until the caller's transaction ends. */
export async function lockSuccessorRefreshToken(trx: Db, id: string): Promise<RefreshTokenRow | undefined> {
  return trx.selectFrom("refresh_tokens").selectAll().where("replaces_id", "=", id).forUpdate().executeTakeFirst();
}
