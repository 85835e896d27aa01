/**
 * The database contract: one suite, run unchanged against in-memory PGlite, embedded PGlite under a
 * directory, and PostgreSQL (when TEST_DATABASE_URL is set). It pins down what the repositories
 * rely on: the same schema, errors and JavaScript types from both drivers. The describe block is
 * named "Database contract on <backend>" so the tests per backend are easy to count.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, NewUser } from "../../server/storage/database.js";
import { migrateToLatest } from "../../server/storage/migrate.js";
import type { OpenDatabase } from "../../server/storage/open-database.js";

export interface DatabaseBackend {
  name: string;
  /** An empty, unmigrated database (the suite migrates it and closes it). */
  open(): Promise<OpenDatabase>;
  /** Opens the same storage again after close(): only for backends that persist. */
  reopen?(): Promise<OpenDatabase>;
  /** Runs after the database is closed (e.g. drops the run's schema). */
  cleanup?(): Promise<void>;
}

const EXPECTED_TABLES = ["account_locks", "audit_log", "device_credentials", "reauth_tokens", "recovery_codes", "refresh_tokens", "sessions", "users"];

export function databaseContract(backend: DatabaseBackend): void {
  describe(`Database contract on ${backend.name}`, () => {
    let database: OpenDatabase;
    let db: Db;
    let firstMigration: string[];
    const run = randomBytes(3).toString("hex");
    let n = 0;
    const username = (name: string) => `${name}-${run}-${++n}`;
    const at = new Date(Date.UTC(2026, 10, 21, 12, 0, 0, 123));

    const newUser = (name: string, overrides: Partial<NewUser> = {}): NewUser => ({
      username: username(name),
      status: "active",
      opaque_record: new Uint8Array(129).fill(7),
      created_at: at,
      ...overrides,
    });
    const insertUser = async (name: string, overrides: Partial<NewUser> = {}) =>
      (await db.insertInto("users").values(newUser(name, overrides)).returning("id").executeTakeFirstOrThrow()).id;
    const insertSession = async (userId: string) =>
      (
        await db
          .insertInto("sessions")
          .values({ user_id: userId, device_name: "laptop", created_at: at, expires_at: new Date(at.getTime() + 86_400_000) })
          .returning("id")
          .executeTakeFirstOrThrow()
      ).id;
    const insertRefreshToken = async (sessionId: string, generation = 0) => {
      const id = randomUUID();
      await db
        .insertInto("refresh_tokens")
        .values({
          id,
          session_id: sessionId,
          generation,
          token_hash: randomBytes(32),
          issued_at: at,
          expires_at: new Date(at.getTime() + 3_600_000),
        })
        .execute();
      return id;
    };

    beforeAll(async () => {
      database = await backend.open();
      db = database.db;
      firstMigration = await migrateToLatest(db);
    });
    afterAll(async () => {
      await database?.close();
      await backend.cleanup?.();
    });

    it("applies the migrations to an empty database, and a second run applies nothing", async () => {
      expect(firstMigration).toEqual(["0001-initial", "0002-revocation-feed", "0003-account-locks", "0004-device-credentials", "0005-username-skeleton", "0006-account-lifecycle", "0007-account-deletion-removes-row"]);
      expect(await migrateToLatest(db)).toEqual([]);
      const { rows } = await sql<{ table_name: string }>`
        select table_name from information_schema.tables
        where table_schema = current_schema() and table_name not like 'kysely_%'
        order by table_name`.execute(db);
      expect(rows.map((r) => r.table_name)).toEqual(EXPECTED_TABLES);
    });

    it("refuses a second account with the same username with SQLSTATE 23505", async () => {
      const row = newUser("dup");
      await db.insertInto("users").values(row).execute();
      await expect(db.insertInto("users").values({ ...row, opaque_record: new Uint8Array(129) }).execute()).rejects.toMatchObject({
        code: "23505",
      });
    });

    it("round-trips bytea with every byte value as a plain Uint8Array", async () => {
      const record = Uint8Array.from({ length: 256 }, (_, i) => i);
      const secret = Uint8Array.from({ length: 300 }, (_, i) => 255 - (i % 256));
      const id = await insertUser("bytes", { opaque_record: record, totp_secret_encrypted: secret, enrollment_token_hash: null });
      const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
      // Plain Uint8Array on both drivers (pg alone would give a Buffer).
      expect(Object.getPrototypeOf(row.opaque_record)).toBe(Uint8Array.prototype);
      expect(Object.getPrototypeOf(row.totp_secret_encrypted)).toBe(Uint8Array.prototype);
      expect(row.opaque_record).toEqual(record);
      expect(row.totp_secret_encrypted).toEqual(secret);
      expect(row.enrollment_token_hash).toBeNull();
      // Lookups by a bytea value work (token hashes are found this way).
      const hash = randomBytes(32);
      const other = await insertUser("bytes-lookup", { status: "pending", enrollment_token_hash: hash });
      const found = await db.selectFrom("users").select("id").where("enrollment_token_hash", "=", Uint8Array.from(hash)).executeTakeFirst();
      expect(found?.id).toBe(other);
    });

    it("round-trips timestamptz exactly to the millisecond, and compares by it", async () => {
      const times = [
        new Date(Date.UTC(2026, 10, 21, 12, 34, 56, 789)),
        new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
        new Date(Date.UTC(2038, 0, 19, 3, 14, 8, 1)),
      ];
      for (const time of times) {
        const id = await insertUser("time", { created_at: time, enrollment_expires_at: time, status: "pending" });
        const row = await db.selectFrom("users").select(["created_at", "enrollment_expires_at"]).where("id", "=", id).executeTakeFirstOrThrow();
        expect(row.created_at).toBeInstanceOf(Date);
        expect(row.created_at.getTime()).toBe(time.getTime());
        expect(row.enrollment_expires_at?.getTime()).toBe(time.getTime());
        const exact = await db.selectFrom("users").select("id").where("id", "=", id).where("created_at", "=", time).executeTakeFirst();
        expect(exact?.id).toBe(id);
        const oneMsLater = new Date(time.getTime() + 1);
        const before = await db.selectFrom("users").select("id").where("id", "=", id).where("created_at", "<", oneMsLater).executeTakeFirst();
        expect(before?.id).toBe(id);
      }
    });

    it("returns bigint columns (totp_last_used_step, bigserial ids) as decimal strings, beyond 2^53 too", async () => {
      const id = await insertUser("step", { totp_last_used_step: 59_000_001 });
      const read = async () =>
        (await db.selectFrom("users").select("totp_last_used_step").where("id", "=", id).executeTakeFirstOrThrow()).totp_last_used_step;
      expect(await read()).toBe("59000001");
      await db.updateTable("users").set({ totp_last_used_step: "9007199254740993" }).where("id", "=", id).execute();
      expect(await read()).toBe("9007199254740993");
      await db.updateTable("users").set({ totp_last_used_step: null }).where("id", "=", id).execute();
      expect(await read()).toBeNull();
      const audit = await db
        .insertInto("audit_log")
        .values({ at, event: "test.bigserial", details: "{}" })
        .returning("id")
        .executeTakeFirstOrThrow();
      expect(audit.id).toMatch(/^\d+$/);
    });

    it("round-trips jsonb details as an object", async () => {
      const details = { reason: "TOKEN_REUSED", attempts: 3, remembered: true, device: "ünïcode ✓", nothing: null };
      const { id } = await db
        .insertInto("audit_log")
        .values({ at, event: "test.json", details: JSON.stringify(details) })
        .returning("id")
        .executeTakeFirstOrThrow();
      const row = await db.selectFrom("audit_log").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
      expect(row.details).toEqual(details);
    });

    // Sessions do not go with the account row (0003): a deleted account's revoked sessions stay
    // for the revocation feed, with their refresh tokens (account/delete-account.ts).
    it("deleting an account row deletes its recovery codes, lock, device credentials and reauth tokens but keeps its sessions and their refresh tokens", async () => {
      const userId = await insertUser("cascade");
      const keepUserId = await insertUser("cascade-keep");
      const sessionId = await insertSession(userId);
      const keptSession = await insertSession(keepUserId);
      const first = await insertRefreshToken(sessionId, 0);
      await db
        .insertInto("refresh_tokens")
        .values({
          id: randomUUID(),
          session_id: sessionId,
          generation: 1,
          token_hash: randomBytes(32),
          replaces_id: first,
          issued_at: at,
          expires_at: at,
        })
        .execute();
      const keptToken = await insertRefreshToken(keptSession);
      await db
        .insertInto("recovery_codes")
        .values([0, 1, 2].map(() => ({ user_id: userId, code_hash: randomBytes(32), created_at: at })))
        .execute();

      await db.insertInto("account_locks").values({ user_id: userId, locked_at: at, reason: "test", locked_by: "00000000" }).execute();
      await db.insertInto("device_credentials").values({ user_id: userId, token_hash: randomBytes(32), device_name: "d", created_at: at, expires_at: at }).execute();
      await db.insertInto("reauth_tokens").values({ token_hash: randomBytes(32), user_id: userId, session_id: sessionId, created_at: at, expires_at: at }).execute();

      await db.deleteFrom("users").where("id", "=", userId).execute();

      const count = async (table: "sessions" | "recovery_codes" | "account_locks" | "device_credentials" | "reauth_tokens", column: "user_id", value: string) =>
        (await db.selectFrom(table).select(db.fn.countAll<string>().as("n")).where(column, "=", value).executeTakeFirstOrThrow()).n;
      expect(Number(await count("sessions", "user_id", userId))).toBe(1);
      expect(Number(await count("recovery_codes", "user_id", userId))).toBe(0);
      expect(Number(await count("account_locks", "user_id", userId))).toBe(0);
      expect(Number(await count("device_credentials", "user_id", userId))).toBe(0);
      expect(Number(await count("reauth_tokens", "user_id", userId))).toBe(0);
      const tokens = await db.selectFrom("refresh_tokens").select("id").where("session_id", "=", sessionId).execute();
      expect(tokens).toHaveLength(2);
      // Only that account's rows went.
      expect(await db.selectFrom("refresh_tokens").select("id").where("id", "=", keptToken).executeTakeFirst()).toEqual({ id: keptToken });
    });

    it("leaves nothing behind when a transaction throws", async () => {
      const name = username("rollback");
      const failure = new Error("second write failed");
      await expect(
        db.transaction().execute(async (trx) => {
          const { id } = await trx.insertInto("users").values({ ...newUser("x"), username: name }).returning("id").executeTakeFirstOrThrow();
          await trx.insertInto("sessions").values({ user_id: id, device_name: "d", created_at: at, expires_at: at }).execute();
          await trx.insertInto("audit_log").values({ at, event: "test.rollback", username: name, details: "{}" }).execute();
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await db.selectFrom("users").select("id").where("username", "=", name).execute()).toEqual([]);
      expect(await db.selectFrom("audit_log").select("id").where("username", "=", name).execute()).toEqual([]);
      // A failing statement inside a transaction rolls back the statements before it, too.
      const taken = username("taken");
      await insertUser("x", { username: taken });
      const other = username("rollback-2");
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.insertInto("users").values({ ...newUser("x"), username: other }).execute();
          await trx.insertInto("users").values({ ...newUser("x"), username: taken }).execute();
        }),
      ).rejects.toMatchObject({ code: "23505" });
      expect(await db.selectFrom("users").select("id").where("username", "=", other).execute()).toEqual([]);
    });

    it("lets exactly one of 20 concurrent callers claim a token with UPDATE ... WHERE used_at IS NULL RETURNING", async () => {
      const sessionId = await insertSession(await insertUser("claim"));
      const tokenId = await insertRefreshToken(sessionId);
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          db
            .updateTable("refresh_tokens")
            .set({ used_at: new Date(at.getTime() + i) })
            .where("id", "=", tokenId)
            .where("used_at", "is", null)
            .returning(["id", "used_at"])
            .executeTakeFirst(),
        ),
      );
      const winners = claims.filter((c) => c !== undefined);
      expect(winners).toHaveLength(1);
      const stored = await db.selectFrom("refresh_tokens").select("used_at").where("id", "=", tokenId).executeTakeFirstOrThrow();
      expect(stored.used_at?.getTime()).toBe(winners[0]?.used_at?.getTime());
    });

    if (backend.reopen) {
      const reopen = backend.reopen;
      it("keeps what was written across close and reopen", async () => {
        const name = username("persist");
        const record = Uint8Array.from({ length: 129 }, (_, i) => i);
        await db.insertInto("users").values({ ...newUser("x"), username: name, opaque_record: record, totp_last_used_step: 42 }).execute();
        await database.close();
        database = await reopen();
        db = database.db;
        expect(await migrateToLatest(db)).toEqual([]);
        const row = await db.selectFrom("users").selectAll().where("username", "=", name).executeTakeFirstOrThrow();
        expect(row.opaque_record).toEqual(record);
        expect(row.created_at.getTime()).toBe(at.getTime());
        expect(row.totp_last_used_step).toBe("42");
      });
    }
  });
}
