/**
 * The per-account cap on wrong second factors (second-factor-lockout.ts): whoever knows the
 * password can mint fresh login tokens, but the account's count of wrong codes follows the account,
 * so after 10 wrong codes (TOTP or recovery, on any tokens) within 15 minutes every attempt, even
 * the right code, is ResourceExhausted with RetryInfo until the window passes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { totpCodeAt } from "../../server/auth/totp.js";
import { putLock, removeLock } from "../../server/storage/account-lock-store.js";
import { callOptions, createActiveUser, createSessionHarness, expectRpcError, nextTotpStep, type SessionHarness, type TestUser } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { retryDelayMsOf } from "./auth-helpers.js";

let ctx: TestContext;
let h: SessionHarness;

beforeAll(async () => {
  ctx = await createTestContext(); // defaults: 10 per account per 900 s; a login token burns after 5
  h = await createSessionHarness(ctx);
});
afterAll(async () => {
  await h?.close();
  await ctx?.close();
});

/** A 6-digit code that is not valid now (not the previous, current or next step's). */
async function wrongTotp(user: TestUser): Promise<string> {
  const now = ctx.clock.now().getTime();
  const valid = new Set(await Promise.all([-1, 0, 1].map((k) => totpCodeAt(user.totpSecret, new Date(now + k * 30_000)))));
  for (let n = 0; ; n++) {
    const candidate = String(123_456 + n * 7_919).padStart(6, "0").slice(-6);
    if (!valid.has(candidate)) return candidate;
  }
}

async function tryTotp(user: TestUser, code: string, loginToken?: string) {
  return h.client.createSession({ loginToken: loginToken ?? (await h.loginToken(user)), secondFactor: { case: "totpCode", value: code } }, callOptions());
}

async function lockoutAudits(user: TestUser): Promise<number> {
  const rows = await ctx.db.selectFrom("audit_log").select("id").where("event", "=", "login.second_factor_locked_out").where("user_id", "=", user.id).execute();
  return rows.length;
}

describe("wrong second factors per account", () => {
  it("refuses even the right code after 10 wrong ones across fresh login tokens, until the window passes", async () => {
    const user = await createActiveUser(ctx);
    // Ten wrong codes on four login tokens (none of them burnt: 3 + 3 + 3 + 1), TOTP and recovery alike.
    const tokens = await Promise.all([1, 2, 3, 4].map(() => h.loginToken(user)));
    for (let i = 0; i < 10; i++) {
      const loginToken = tokens[Math.floor(i / 3)]!;
      const attempt =
        i % 2 === 0
          ? tryTotp(user, await wrongTotp(user), loginToken)
          : h.client.createSession({ loginToken, secondFactor: { case: "recoveryCode", value: "aaaa-bbbb-cccc" } }, callOptions());
      await expectRpcError(attempt, Code.Unauthenticated, "SECOND_FACTOR_INVALID");
    }
    expect(await lockoutAudits(user)).toBe(1);

    // The right code, on a fresh token (and on a used one), from now on: refused with RetryInfo.
    ctx.clock.advance(60_000);
    for (const loginToken of [await h.loginToken(user), tokens[3]!]) {
      const refused = await expectRpcError(tryTotp(user, await h.totp(user), loginToken), Code.ResourceExhausted);
      expect(retryDelayMsOf(refused)).toBe(840_000);
    }
    const wrong = await expectRpcError(tryTotp(user, await wrongTotp(user)), Code.ResourceExhausted);
    expect(retryDelayMsOf(wrong)).toBe(840_000);
    await expectRpcError(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: user.recoveryCodes[0]! } }, callOptions()),
      Code.ResourceExhausted,
    );
    expect(await lockoutAudits(user)).toBe(1);

    // After the window: the right code works, and the refused recovery code was not spent.
    ctx.clock.advance(840_000);
    nextTotpStep(ctx);
    await expect(tryTotp(user, await h.totp(user))).resolves.toHaveProperty("session");
    await expect(
      h.client.createSession({ loginToken: await h.loginToken(user), secondFactor: { case: "recoveryCode", value: user.recoveryCodes[0]! } }, callOptions()),
    ).resolves.toHaveProperty("session");
  });

  it("checks at most 10 codes when 30 wrong guesses arrive in parallel on 30 login tokens", async () => {
    const user = await createActiveUser(ctx);
    const code = await wrongTotp(user);
    const tokens = await Promise.all(Array.from({ length: 30 }, () => h.loginToken(user)));
    const results = await Promise.allSettled(tokens.map((loginToken) => tryTotp(user, code, loginToken)));
    const codes = results.map((r) => (r.status === "rejected" ? Code[ConnectError.from(r.reason).code] : "ok"));
    expect(codes.filter((c) => c === "Unauthenticated")).toHaveLength(10);
    expect(codes.filter((c) => c === "ResourceExhausted")).toHaveLength(20);
    expect(await lockoutAudits(user)).toBe(1);
  });

  it("starts the count afresh after a right code, and keeps other accounts out of it", async () => {
    const user = await createActiveUser(ctx);
    const other = await createActiveUser(ctx);
    for (let i = 0; i < 9; i++) await expectRpcError(tryTotp(user, await wrongTotp(user)), Code.Unauthenticated, "SECOND_FACTOR_INVALID");
    for (let i = 0; i < 10; i++) await expectRpcError(tryTotp(other, await wrongTotp(other)), Code.Unauthenticated, "SECOND_FACTOR_INVALID");
    nextTotpStep(ctx);
    await expect(tryTotp(user, await h.totp(user))).resolves.toHaveProperty("session");
    // Nine more wrong codes are still checked (the count restarted), and the right one then works.
    for (let i = 0; i < 9; i++) await expectRpcError(tryTotp(user, await wrongTotp(user)), Code.Unauthenticated, "SECOND_FACTOR_INVALID");
    nextTotpStep(ctx);
    await expect(tryTotp(user, await h.totp(user))).resolves.toHaveProperty("session");
    await expectRpcError(tryTotp(other, await h.totp(other)), Code.ResourceExhausted);
  });

  it("does not count attempts that end before the code is judged (here: the account locked meanwhile)", async () => {
    const user = await createActiveUser(ctx);
    const tokens = await Promise.all(Array.from({ length: 12 }, () => h.loginToken(user)));
    await putLock(ctx.db, { userId: user.id, at: ctx.clock.now(), reason: "test", by: "test" });
    // Twelve calls, more than the cap, each refused before any code is looked at.
    for (const loginToken of tokens) await expectRpcError(tryTotp(user, await wrongTotp(user), loginToken), Code.Unauthenticated, "TOKEN_INVALID");
    await removeLock(ctx.db, user.id);
    // None of them counted: ten wrong codes are still judged, and the right code then works.
    for (let i = 0; i < 9; i++) await expectRpcError(tryTotp(user, await wrongTotp(user)), Code.Unauthenticated, "SECOND_FACTOR_INVALID");
    nextTotpStep(ctx);
    await expect(tryTotp(user, await h.totp(user))).resolves.toHaveProperty("session");
  });
});
