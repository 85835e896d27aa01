/**
 * PostgreSQL specifics beyond the shared contract (needs TEST_DATABASE_URL): migrations when the
 * database holds other schemas (other apps, other test runs), and sweepers of several instances
 * running at once. Each run works in its own throwaway schema.
 */
import { afterAll, describe, expect, it } from "vitest";
import { migrateToLatest } from "../../server/storage/migrate.js";
import { openDatabase } from "../../server/storage/open-database.js";
import { sweepExpiredEnrollments } from "../../server/storage/sweep-expired-enrollments.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";

const baseUrl = TEST_DATABASE_URL;
if (!baseUrl) {
  describe.skip("PostgreSQL migrations (set TEST_DATABASE_URL to run)", () => {
    it("needs TEST_DATABASE_URL", () => {});
  });
} else {
  describe("PostgreSQL migrations", () => {
    const schemas: TestSchema[] = [];
    afterAll(async () => {
      for (const schema of schemas) await schema.drop();
    });

    it("migrates each schema on its own when another schema of the database already has migration tables", async () => {
      for (let i = 0; i < 2; i++) {
        const schema = await createTestSchema(baseUrl);
        schemas.push(schema);
        const database = openDatabase({ kind: "postgres", url: schema.url });
        try {
          expect(await migrateToLatest(database.db)).toEqual(["0001-initial", "0002-revocation-feed", "0003-account-locks", "0004-device-credentials", "0005-username-skeleton", "0006-account-lifecycle", "0007-account-deletion-removes-row"]);
          const tables = await database.db.introspection.getTables({ withInternalKyselyTables: true });
          const mine = tables.filter((t) => t.schema === schema.name).map((t) => t.name).sort();
          expect(mine).toEqual(["account_locks", "audit_log", "device_credentials", "kysely_migration", "kysely_migration_lock", "reauth_tokens", "recovery_codes", "refresh_tokens", "sessions", "users"]);
        } finally {
          await database.close();
        }
      }
    });

    it("lets two instances sweep expired enrollments at once without removing or auditing an account twice", async () => {
      const schema = await createTestSchema(baseUrl);
      schemas.push(schema);
      const [a, b] = [openDatabase({ kind: "postgres", url: schema.url }), openDatabase({ kind: "postgres", url: schema.url })];
      try {
        await migrateToLatest(a.db);
        const now = new Date(Date.UTC(2026, 10, 21, 12));
        await a.db
          .insertInto("users")
          .values(
            Array.from({ length: 2_000 }, (_, i) => ({
              username: `sweep-${i}`,
              status: "pending" as const,
              opaque_record: new Uint8Array(129),
              created_at: now,
              enrollment_expires_at: new Date(now.getTime() - i),
            })),
          )
          .execute();
        const counts = await Promise.all([sweepExpiredEnrollments(a.db, now), sweepExpiredEnrollments(b.db, now)]);
        expect(counts[0] + counts[1]).toBe(2_000);
        const audited = await a.db.selectFrom("audit_log").select(a.db.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
        expect(Number(audited.n)).toBe(2_000);
        const left = await a.db.selectFrom("users").select(a.db.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
        expect(Number(left.n)).toBe(0);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("refuses to migrate with a clear message when the search_path names no existing schema", async () => {
      const url = new URL(baseUrl);
      url.searchParams.set("options", "-c search_path=cypher_test_does_not_exist");
      const database = openDatabase({ kind: "postgres", url: url.toString() });
      try {
        await expect(migrateToLatest(database.db)).rejects.toThrow(/search_path names no existing schema/);
      } finally {
        await database.close();
      }
    });
  });
}
