/**
 * LockUser against CreateSession on real PostgreSQL (a fresh schema of TEST_DATABASE_URL): both lock
 * the account's row first, so neither can slip past the other. Each side is held open half-way
 * through its transaction while the other runs, and must wait for it:
 *  - a CreateSession that starts while a lock is being written waits, then finds the lock;
 *  - a LockUser that starts while a session is being created waits, then ends that session too.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockAccount } from "../../server/account/lock-account.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { callOptions, createActiveUser, createSessionHarness, expectRpcError, type SessionHarness } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";

const actor = { ip: "192.0.2.1", userAgent: null, details: { by: "operator", operator: "0badc0de" } };

/** A transaction held open at `hold` until release() is called. */
function heldTransaction(ctx: TestContext, work: (trx: TestContext["db"]) => Promise<void>) {
  let release!: () => void;
  let reached!: () => void;
  const atHold = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const done = ctx.db.transaction().execute(async (trx) => {
    await work(trx);
    reached();
    await released;
  });
  return { atHold, release, done };
}

/** Whether `promise` is still pending after `ms`. */
async function stillPending(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return !settled;
}

if (!TEST_DATABASE_URL) {
  describe.skip("LockUser against CreateSession (set TEST_DATABASE_URL to run)", () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  describe("LockUser against CreateSession on PostgreSQL", () => {
    let schema: TestSchema;
    let ctx: TestContext;
    let h: SessionHarness;

    beforeAll(async () => {
      schema = await createTestSchema(TEST_DATABASE_URL!);
      ctx = await createTestContext({ databaseUrl: schema.url });
      h = await createSessionHarness(ctx);
    });

    afterAll(async () => {
      await h?.close();
      await ctx?.close();
      await schema?.drop();
    });

    it("a CreateSession that starts while a lock is being written waits for it, then is refused", async () => {
      const user = await createActiveUser(ctx);
      const loginToken = await h.loginToken(user);
      const code = await h.totp(user);
      // LockUser's first two steps (hold-account.ts, then the lock row), not committed yet.
      const lock = heldTransaction(ctx, async (trx) => {
        await trx.selectFrom("users").select("id").where("id", "=", user.id).forUpdate().execute();
        await trx.insertInto("account_locks").values({ user_id: user.id, locked_at: ctx.clock.now(), reason: "", locked_by: "0badc0de" }).execute();
      });
      await lock.atHold;
      const create = h.client.createSession({ loginToken, secondFactor: { case: "totpCode", value: code }, deviceName: "racing" }, callOptions());
      expect(await stillPending(create, 300)).toBe(true);
      lock.release();
      await lock.done;
      await expectRpcError(create, Code.Unauthenticated, "TOKEN_INVALID");
      const sessions = await ctx.db.selectFrom("sessions").select("id").where("user_id", "=", user.id).execute();
      expect(sessions).toEqual([]);
    });

    it("a LockUser that starts while a session is being created waits for it, then ends that session too", async () => {
      const user = await createActiveUser(ctx);
      const sessionId = randomUUID();
      const now = ctx.clock.now();
      // CreateSession's transaction up to the new session row, not committed yet.
      const creating = heldTransaction(ctx, async (trx) => {
        await trx.selectFrom("users").select("id").where("id", "=", user.id).forUpdate().execute();
        await trx
          .insertInto("sessions")
          .values({ id: sessionId, user_id: user.id, device_name: "racing", created_at: now, expires_at: new Date(now.getTime() + 3_600_000) })
          .execute();
      });
      await creating.atHold;
      const locking = lockAccount({ db: ctx.db, clock: ctx.clock, revocations: h.module.liveness }, { userId: user.id, reason: "", lockedBy: "0badc0de", actor });
      expect(await stillPending(locking, 300)).toBe(true);
      creating.release();
      await creating.done;
      expect(await locking).toBe(1);
      const row = await ctx.db.selectFrom("sessions").select(["revoked_reason"]).where("id", "=", sessionId).executeTakeFirstOrThrow();
      expect(row.revoked_reason).toBe("account_locked");
    });
  });
}
