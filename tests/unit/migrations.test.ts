import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { migrateToLatest } from "../../server/storage/migrate.js";

describe("migrations on embedded PostgreSQL", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it("creates every table and is idempotent", async () => {
    const tables = await ctx.db.introspection.getTables();
    expect(tables.map((t) => t.name).sort()).toEqual(["account_locks", "audit_log", "device_credentials", "reauth_tokens", "recovery_codes", "refresh_tokens", "sessions", "users"]);
    expect(await migrateToLatest(ctx.db)).toEqual([]);
  });

  it("refuses a second account with the same username", async () => {
    const row = { username: "alice", status: "active" as const, opaque_record: new Uint8Array(129), created_at: ctx.clock.now() };
    await ctx.db.insertInto("users").values(row).execute();
    await expect(ctx.db.insertInto("users").values(row).execute()).rejects.toMatchObject({ code: "23505" });
  });
});
