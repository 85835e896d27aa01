/**
 * Attempt limits and overload, at the RPC level: parallel attempts, backoff, lockout, reset on
 * success, per-IP limits, the worker queue. Unknown usernames must behave exactly like real ones.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttemptLimits, type LoginLimitSettings } from "../../server/auth/attempt-limits.js";
import type { AuthDeps } from "../../server/auth/auth-deps.js";
import { createAuthService } from "../../server/rpc/auth-module.js";
import { opaqueServerKeys } from "../../server/auth/opaque/opaque-executor.js";
import { OpaqueWorkerPool, QUEUE_FULL_RETRY_MS } from "../../server/auth/opaque/opaque-worker-pool.js";
import { recoveryCodePepper } from "../../server/auth/recovery-codes.js";
import { silentLogger } from "../../server/logger.js";
import {
  type AuthClient,
  type AuthHarness,
  authClient,
  beginLogin,
  enroll,
  expectCode,
  from,
  register,
  retryDelayMsOf,
  someKe1,
  startAuth,
} from "./auth-helpers.js";

let h: AuthHarness;
let ke1: Uint8Array;
const extraPools: OpaqueWorkerPool[] = [];

beforeAll(async () => {
  h = await startAuth(); // default limits: 10 per username / 15 min, backoff after 5, 100 per IP
  ke1 = await someKe1();
});
afterAll(async () => {
  for (const pool of extraPools) await pool.close();
  await h.close();
});

/** An AuthService over the same storage with other limits or another worker pool. */
async function serviceWith(options: { limits?: Partial<LoginLimitSettings>; threads?: number; maxQueued?: number; busy?: boolean }): Promise<AuthClient> {
  const pool = await OpaqueWorkerPool.start({
    threads: options.threads ?? 1,
    maxQueued: options.maxQueued ?? 64,
    keys: opaqueServerKeys(h.ctx.keys, h.ctx.config.serverIdentity),
    logger: silentLogger,
  });
  extraPools.push(pool);
  const deps: AuthDeps = {
    ...h.ctx,
    tokens: h.tokens,
    // `busy`: a server whose OPAQUE queue is full for the whole test.
    opaque: options.busy ? Object.assign(Object.create(pool) as OpaqueWorkerPool, { hasCapacity: () => false }) : pool,
    limits: new AttemptLimits(h.ctx.kv, h.ctx.clock, { ...h.ctx.config.rateLimits, ...options.limits }),
    recoveryCodePepper: recoveryCodePepper(h.ctx.keys.totpEncryptionKey),
  };
  return authClient(createAuthService(deps));
}

let registrations = 0;
async function registerActive(username: string, password: string): Promise<void> {
  const { enrollmentToken } = await register(h.client, username, password, { ip: `198.18.${registrations++}.1` });
  await enroll(h.client, enrollmentToken, h.ctx.clock.now());
}

type Outcome = "ok" | `wait ${number}s` | "other";

/** One LoginInit, summarized: ok, or ResourceExhausted with its retry delay in whole seconds. */
async function attempt(client: AuthClient, username: string, ip: string): Promise<Outcome> {
  try {
    await client.loginInit({ username, ke1 }, from(ip));
    return "ok";
  } catch (e) {
    const error = ConnectError.from(e);
    if (error.code !== Code.ResourceExhausted) return "other";
    return `wait ${Math.ceil((retryDelayMsOf(error) ?? NaN) / 1000)}s`;
  }
}

async function lockoutAudits(username: string): Promise<number> {
  const rows = await h.ctx.db.selectFrom("audit_log").select("id").where("event", "=", "login.locked_out").where("username", "=", username).execute();
  return rows.length;
}

describe("LoginInit limits per username", () => {
  it("let exactly the limit through when 100 attempts arrive in parallel, for real and unknown usernames alike", async () => {
    const noBackoff = await serviceWith({ limits: { loginBackoffBaseMs: 0 }, threads: 2 });
    await registerActive("parallel-real", "pw");
    for (const username of ["parallel-real", "parallel-unknown"]) {
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) => noBackoff.loginInit({ username, ke1 }, from(`10.1.${i}.7`))),
      );
      const passed = results.filter((r) => r.status === "fulfilled");
      expect(passed, username).toHaveLength(10);
      for (const r of results) {
        if (r.status === "fulfilled") continue;
        const error = ConnectError.from(r.reason);
        expect(error.code).toBe(Code.ResourceExhausted);
        // RetryInfo: until the 15-minute window ends.
        expect(retryDelayMsOf(error)).toBeGreaterThan(890_000);
        expect(retryDelayMsOf(error)).toBeLessThanOrEqual(900_000);
      }
      expect(await lockoutAudits(username)).toBe(1);
    }
  });

  it("back off progressively, then lock out until the window ends, identically for real and unknown usernames", async () => {
    await registerActive("backoff-real", "pw");
    const names = ["backoff-real", "backoff-unknown"];
    const traces: Record<string, Outcome[]> = { "backoff-real": [], "backoff-unknown": [] };
    const step = async () => {
      for (const name of names) traces[name]!.push(await attempt(h.client, name, `10.2.${names.indexOf(name)}.1`));
    };
    for (let i = 0; i < 5; i++) await step(); // free attempts
    await step(); // too early
    for (const waitSeconds of [1, 2, 4, 8, 16]) {
      h.ctx.clock.advance(waitSeconds * 1000);
      await step();
    }
    await step(); // gate closed again (32 s)
    h.ctx.clock.advance(32_000);
    await step(); // 11th counted attempt: locked out for the rest of the window
    await step(); // still locked out (audited once only)
    h.ctx.clock.advance(900_000 - 63_000);
    await step(); // a new window

    const expected: Outcome[] = ["ok", "ok", "ok", "ok", "ok", "wait 1s", "ok", "ok", "ok", "ok", "ok", "wait 32s", "wait 837s", "wait 837s", "ok"];
    expect(traces["backoff-real"]).toEqual(expected);
    expect(traces["backoff-unknown"]).toEqual(expected);
    expect(await lockoutAudits("backoff-real")).toBe(1);
    expect(await lockoutAudits("backoff-unknown")).toBe(1);
  });

  it("let only the free attempts through a parallel burst while backoff is on", async () => {
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => h.client.loginInit({ username: "burst-unknown", ke1 }, from(`10.3.${i}.1`))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
  });

  it("start afresh after a successful login", async () => {
    await registerActive("resets-real", "the password");
    for (let i = 0; i < 4; i++) expect(await attempt(h.client, "resets-real", "10.4.0.1")).toBe("ok");
    const login = await beginLogin(h.client, "resets-real", "the password", { ip: "10.4.0.1" });
    expect(login.ok).toBe(true);
    if (!login.ok) return;
    await h.client.loginFinish({ loginId: login.loginId, ke3: login.ke3 }, from("10.4.0.1"));
    // Without the reset the 6th attempt would wait at the backoff gate.
    for (let i = 0; i < 5; i++) expect(await attempt(h.client, "resets-real", "10.4.0.1")).toBe("ok");
  });
});

describe("limits per client IP", () => {
  it("cap LoginInits from one IP whatever the usernames", async () => {
    const client = await serviceWith({ limits: { loginAttemptsPerIp: 3, loginIpWindowSeconds: 60 } });
    const outcomes = [];
    for (const name of ["ip-a", "ip-b", "ip-c", "ip-d"]) outcomes.push(await attempt(client, name, "10.5.0.1"));
    expect(outcomes).toEqual(["ok", "ok", "ok", "wait 60s"]);
    expect(await attempt(client, "ip-d", "10.5.0.2")).toBe("ok");
  });

  it("cap RegisterInit and RegisterFinish from one IP", async () => {
    const client = await serviceWith({ limits: { registrationsPerIp: 2, registrationIpWindowSeconds: 3600 } });
    const request = ke1.subarray(0, 33);
    await client.registerInit({ username: "reg-a", registrationRequest: request }, from("10.6.0.1"));
    await client.registerInit({ username: "reg-b", registrationRequest: request }, from("10.6.0.1"));
    const refused = await expectCode(client.registerInit({ username: "reg-c", registrationRequest: request }, from("10.6.0.1")), Code.ResourceExhausted);
    expect(retryDelayMsOf(refused)).toBe(3_600_000);
    // RegisterFinish has its own count (it can be called without RegisterInit).
    const record = new Uint8Array(129);
    record.set(ke1.subarray(0, 33)); // a valid point where the client public key goes
    await client.registerFinish({ username: "reg-a", registrationRecord: record }, from("10.6.0.1"));
    await client.registerFinish({ username: "reg-b", registrationRecord: record }, from("10.6.0.1"));
    await expectCode(client.registerFinish({ username: "reg-c", registrationRecord: record }, from("10.6.0.1")), Code.ResourceExhausted);
    await expect(client.registerFinish({ username: "reg-c", registrationRecord: record }, from("10.6.0.2"))).resolves.toHaveProperty("enrollmentToken");
  });
});

describe("overload", () => {
  it("refuses a client over its per-IP limit before the queue-capacity check, and counts its calls while the server is busy", async () => {
    const client = await serviceWith({ busy: true, limits: { loginAttemptsPerIp: 3, loginIpWindowSeconds: 60 } });
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      const error = await expectCode(client.loginInit({ username: `flood-${i}`, ke1 }, from("10.7.99.1")), Code.ResourceExhausted);
      outcomes.push(`${error.rawMessage} (${retryDelayMsOf(error)} ms)`);
    }
    // The first three are within the per-IP limit and meet the full queue; from the fourth on the
    // client is over its limit, and told so (not invited back shortly as "busy").
    expect(outcomes).toEqual([
      ...Array(3).fill(`the server is busy, try again shortly (${QUEUE_FULL_RETRY_MS} ms)`),
      ...Array(2).fill("too many attempts, try again later (60000 ms)"),
    ]);
  });

  it("answers ResourceExhausted with RetryInfo when every OPAQUE worker is busy and the queue is full", async () => {
    const client = await serviceWith({ threads: 1, maxQueued: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => client.loginInit({ username: `busy-${i}`, ke1 }, from(`10.7.${i}.1`))),
    );
    const refused = results.filter((r) => r.status === "rejected").map((r) => ConnectError.from((r as PromiseRejectedResult).reason));
    expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const error of refused) {
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toBe("the server is busy, try again shortly");
      expect(retryDelayMsOf(error)).toBe(QUEUE_FULL_RETRY_MS);
    }
  });
});
