/**
 * Migration 0007 on a database that has 0006's tombstones: each tombstone row is removed (with what
 * references it), its revoked sessions stay for WatchRevocations with their device names blanked,
 * live accounts are untouched, and status `deleted` is no longer accepted.
 */
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateTo, migrateToLatest } from "../../server/storage/migrate.js";
import { openDatabase, type OpenDatabase } from "../../server/storage/open-database.js";

describe("migration 0007: account deletion removes the row", () => {
  let database: OpenDatabase;
  const at = new Date(Date.UTC(2026, 11, 1));
  const later = new Date(at.getTime() + 86_400_000);

  beforeAll(async () => {
    database = openDatabase({ kind: "memory" });
    await migrateTo(database.db, "0006-account-lifecycle");
  });
  afterAll(async () => {
    await database?.close();
  });

  it("removes 0006's tombstones, keeps their revoked sessions with blank device names, and leaves live accounts alone", async () => {
    const db = database.db;
    // 0006's schema still has deleted_at and status 'deleted': written as raw SQL.
    const { rows: tomb } = await sql<{ id: string }>`
      insert into users (username, status, opaque_record, created_at, deleted_at)
      values ('deleted:x', 'deleted', ${new Uint8Array(0)}, ${at}, ${at}) returning id`.execute(db);
    const tombId = tomb[0]!.id;
    await sql`update users set username = 'deleted:' || id::text where id = ${tombId}`.execute(db);
    const { rows: live } = await sql<{ id: string }>`
      insert into users (username, status, opaque_record, created_at) values ('alice', 'active', ${new Uint8Array(129)}, ${at}) returning id`.execute(db);
    const liveId = live[0]!.id;
    const session = async (userId: string, revoked: boolean) =>
      (
        await sql<{ id: string }>`
          insert into sessions (user_id, device_name, created_at, expires_at, revoked_at, revoked_reason, revocation_seq)
          values (${userId}, 'my phone', ${at}, ${later}, ${revoked ? at : null}, ${revoked ? "account_deleted" : null}, ${revoked ? "7" : null})
          returning id`.execute(db)
      ).rows[0]!.id;
    const tombSession = await session(tombId, true);
    const liveSession = await session(liveId, false);
    await sql`insert into device_credentials (user_id, token_hash, device_name, created_at, expires_at) values (${tombId}, ${randomBytes(32)}, 'my phone', ${at}, ${later})`.execute(db);

    expect(await migrateToLatest(db)).toEqual(["0007-account-deletion-removes-row"]);

    expect(await db.selectFrom("users").select("id").execute()).toEqual([{ id: liveId }]);
    expect(await db.selectFrom("device_credentials").select("id").where("user_id", "=", tombId).execute()).toEqual([]);
    const sessions = await db.selectFrom("sessions").select(["id", "device_name", "revocation_seq"]).orderBy("device_name").execute();
    expect(sessions).toEqual(
      expect.arrayContaining([
        { id: tombSession, device_name: "", revocation_seq: "7" },
        { id: liveSession, device_name: "my phone", revocation_seq: null },
      ]),
    );
    await expect(sql`insert into users (username, status, opaque_record, created_at) values ('bob', 'deleted', ${new Uint8Array(1)}, ${at})`.execute(db)).rejects.toMatchObject({ code: "23514" });
  });
});
