import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../server/clock.js";
import { createLogger } from "../../server/logger.js";
import type { NewUser } from "../../server/storage/database.js";
import { openDatabase } from "../../server/storage/open-database.js";
import { startEnrollmentSweeper, sweepExpiredEnrollments } from "../../server/storage/sweep-expired-enrollments.js";
import { createTestContext, type TestContext } from "../support/test-context.js";

const ENROLLMENT_MS = 5 * 60_000;

describe("sweeping expired enrollments", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await ctx.db.deleteFrom("users").execute();
    await ctx.db.deleteFrom("audit_log").execute();
  });

  const pending = (username: string, expiresAt: Date): NewUser => ({
    username,
    status: "pending",
    opaque_record: new Uint8Array(129),
    created_at: new Date(expiresAt.getTime() - ENROLLMENT_MS),
    enrollment_expires_at: expiresAt,
    enrollment_token_hash: crypto.getRandomValues(new Uint8Array(32)),
  });
  const usernames = async () => (await ctx.db.selectFrom("users").select("username").orderBy("username").execute()).map((r) => r.username);

  it("removes pending accounts whose window has ended (and their children), with one audit entry each", async () => {
    const now = ctx.clock.now();
    const ms = (offset: number) => new Date(now.getTime() + offset);
    const rows = await ctx.db
      .insertInto("users")
      .values([
        pending("expired-long-ago", ms(-ENROLLMENT_MS)),
        pending("expired-just-now", ms(0)),
        pending("still-enrolling", ms(1)),
        // Activation clears the expiry; even if it did not, an active account is never swept.
        { ...pending("active", ms(-1_000)), status: "active", activated_at: ms(-2_000) },
      ])
      .returning(["id", "username"])
      .execute();
    const expiredId = rows.find((r) => r.username === "expired-long-ago")!.id;
    await ctx.db.insertInto("recovery_codes").values({ user_id: expiredId, code_hash: new Uint8Array(32).fill(1), created_at: now }).execute();

    expect(await sweepExpiredEnrollments(ctx.db, now)).toBe(2);

    expect(await usernames()).toEqual(["active", "still-enrolling"]);
    expect(await ctx.db.selectFrom("recovery_codes").select("id").where("user_id", "=", expiredId).execute()).toEqual([]);
    const audit = await ctx.db.selectFrom("audit_log").selectAll().orderBy("username").execute();
    expect(audit.map((a) => ({ event: a.event, username: a.username, user_id: a.user_id, at: a.at.getTime() }))).toEqual(
      ["expired-just-now", "expired-long-ago"].map((username) => ({
        event: "enrollment.expired",
        username,
        user_id: rows.find((r) => r.username === username)!.id,
        at: now.getTime(),
      })),
    );
    // The username can be registered again.
    await ctx.db.insertInto("users").values(pending("expired-long-ago", ms(ENROLLMENT_MS))).execute();
    // Nothing left to do until time moves on.
    expect(await sweepExpiredEnrollments(ctx.db, now)).toBe(0);
  });

  it("works through a backlog larger than one batch", async () => {
    const now = ctx.clock.now();
    await ctx.db
      .insertInto("users")
      .values(Array.from({ length: 1_203 }, (_, i) => pending(`backlog-${i}`, new Date(now.getTime() - i))))
      .execute();
    expect(await sweepExpiredEnrollments(ctx.db, now)).toBe(1_203);
    expect(await usernames()).toEqual([]);
    const { n } = await ctx.db.selectFrom("audit_log").select(ctx.db.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    expect(Number(n)).toBe(1_203);
  });

  it("runs on an interval, on the given clock, until stopped", async () => {
    const clock = new ManualClock(ctx.clock.now());
    await ctx.db.insertInto("users").values(pending("expires-later", new Date(clock.now().getTime() + ENROLLMENT_MS))).execute();
    const lines: string[] = [];
    const stop = startEnrollmentSweeper({ db: ctx.db, clock, intervalSeconds: 0.02, logger: createLogger("info", (l) => lines.push(l)) });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await usernames()).toEqual(["expires-later"]);
      clock.advance(ENROLLMENT_MS);
      await vi.waitFor(async () => expect(await usernames()).toEqual([]), { timeout: 3_000, interval: 20 });
      await vi.waitFor(() => expect(lines.join("\n")).toContain("expired enrollments removed"));
    } finally {
      await stop();
    }
    await ctx.db.insertInto("users").values(pending("after-stop", clock.now())).execute();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await usernames()).toEqual(["after-stop"]);
  });

  it("logs and keeps going when the database is unreachable", async () => {
    const unreachable = openDatabase({ kind: "postgres", url: "postgres://cypher@127.0.0.1:1/cypher" });
    const lines: string[] = [];
    const stop = startEnrollmentSweeper({
      db: unreachable.db,
      clock: ctx.clock,
      intervalSeconds: 0.02,
      logger: createLogger("info", (l) => lines.push(l)),
    });
    try {
      await vi.waitFor(() => expect(lines.filter((l) => l.includes("enrollment sweep failed")).length).toBeGreaterThanOrEqual(2), {
        timeout: 3_000,
      });
    } finally {
      await stop();
      await unreachable.close();
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", error: { message: expect.stringContaining("ECONNREFUSED") } });
  });
});
