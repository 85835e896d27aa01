/**
 * The database contract on PostgreSQL (needs TEST_DATABASE_URL), in a fresh schema per run that is
 * dropped afterwards, so it can share the database with other suites.
 */
import { describe, it } from "vitest";
import { openDatabase } from "../../server/storage/open-database.js";
import { databaseContract } from "../storage/database-contract.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";

const baseUrl = TEST_DATABASE_URL;
if (baseUrl) {
  let schema: TestSchema | undefined;
  databaseContract({
    name: "PostgreSQL",
    open: async () => {
      schema = await createTestSchema(baseUrl);
      return openDatabase({ kind: "postgres", url: schema.url });
    },
    reopen: async () => openDatabase({ kind: "postgres", url: schema!.url }),
    cleanup: async () => schema?.drop(),
  });
} else {
  describe.skip("Database contract on PostgreSQL (set TEST_DATABASE_URL to run)", () => {
    it("needs TEST_DATABASE_URL", () => {});
  });
}
