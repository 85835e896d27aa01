import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditDetails, recordAudit, recordAudits } from "../../server/storage/audit-log.js";
import { createTestContext, type TestContext } from "../support/test-context.js";

describe("audit log", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  const rowsFor = (username: string) => ctx.db.selectFrom("audit_log").selectAll().where("username", "=", username).orderBy("id").execute();

  it("records a long emoji detail and a NUL without failing: cut between characters, NUL replaced", async () => {
    const reason = "a" + "😀".repeat(300);
    await recordAudit(ctx.db, { at: ctx.clock.now(), event: "admin.user_locked", username: "audit-emoji", userAgent: `agent\u0000${"😀".repeat(300)}`, details: { reason, note: "x\u0000y" } });
    const [row] = await rowsFor("audit-emoji");
    const stored = (row?.details as { reason: string; note: string }).reason;
    expect(reason.startsWith(stored)).toBe(true);
    expect(stored.length).toBeGreaterThan(400);
    expect(stored).not.toMatch(/[\uD800-\uDBFF]$/);
    expect((row?.details as { note: string }).note).toBe("x\uFFFDy");
    expect(row?.user_agent?.startsWith("agent\uFFFD😀")).toBe(true);
  });

  it("records who, what, when and from where, with details as JSON", async () => {
    const userId = crypto.randomUUID();
    const sessionId = crypto.randomUUID();
    await recordAudit(ctx.db, {
      at: ctx.clock.now(),
      event: "session.refresh_reuse_detected",
      userId,
      sessionId,
      username: "audit-alice",
      ip: "203.0.113.7",
      userAgent: "Mozilla/5.0",
      details: { reason: "TOKEN_REUSED", generation: 3, graceExceeded: true, device: null },
    });
    await recordAudit(ctx.db, { at: ctx.clock.now(), event: "login.failed", username: "audit-alice" });
    const rows = await rowsFor("audit-alice");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      event: "session.refresh_reuse_detected",
      user_id: userId,
      session_id: sessionId,
      ip: "203.0.113.7",
      user_agent: "Mozilla/5.0",
      details: { reason: "TOKEN_REUSED", generation: 3, graceExceeded: true, device: null },
    });
    expect(rows[0]?.at.getTime()).toBe(ctx.clock.now().getTime());
    expect(rows[1]).toMatchObject({ event: "login.failed", user_id: null, session_id: null, ip: null, user_agent: null, details: {} });
  });

  it("refuses details whose key names a secret, or whose value is not a flat fact, and writes nothing", async () => {
    const secretKeys = ["password", "totpCode", "recovery_code", "refreshToken", "secret", "ke3", "opaqueRecord", "tokenHash", "privateKey", "Authorization"];
    for (const key of secretKeys) {
      await expect(
        recordAudit(ctx.db, { at: ctx.clock.now(), event: "login.failed", username: "audit-bob", details: { [key]: "x" } }),
      ).rejects.toThrow(TypeError);
    }
    const notFlat = [{ bytes: new Uint8Array(4) }, { nested: { a: 1 } }] as unknown as AuditDetails[];
    for (const details of notFlat) {
      await expect(recordAudit(ctx.db, { at: ctx.clock.now(), event: "login.failed", username: "audit-bob", details })).rejects.toThrow(TypeError);
    }
    expect(await rowsFor("audit-bob")).toEqual([]);
  });

  it("cuts client-supplied strings to a bounded length", async () => {
    const username = "audit-carol";
    await recordAudit(ctx.db, {
      at: ctx.clock.now(),
      event: "login.failed",
      username,
      ip: "1".repeat(1_000),
      userAgent: "A".repeat(10_000),
      details: { device: "D".repeat(10_000) },
    });
    const [row] = await rowsFor(username);
    expect(row?.ip).toHaveLength(64);
    expect(row?.user_agent).toHaveLength(512);
    expect((row?.details as { device: string }).device).toHaveLength(512);
  });

  it("is written with the change it describes: a rolled-back transaction leaves no entry", async () => {
    await expect(
      ctx.db.transaction().execute(async (trx) => {
        await recordAudits(trx, [
          { at: ctx.clock.now(), event: "session.created", username: "audit-dave" },
          { at: ctx.clock.now(), event: "login.succeeded", username: "audit-dave" },
        ]);
        expect(await trx.selectFrom("audit_log").select("id").where("username", "=", "audit-dave").execute()).toHaveLength(2);
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    expect(await rowsFor("audit-dave")).toEqual([]);
  });
});
