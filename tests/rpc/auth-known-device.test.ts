/**
 * Known devices (OWASP "device cookies"): strangers who know a username can exhaust its LoginInit
 * budget, but a device that logged in before shows the device token CreateSession gave it and gets
 * a budget of its own. AuthService and SessionService share one context here, as in one process.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSession, logIn } from "../../client/login.js";
import { AttemptLimits } from "../../server/auth/attempt-limits.js";
import { deviceTokenHash } from "../../server/session/device-credential-store.js";
import { callOptions, bearer, createSessionHarness, nextTotpStep, type SessionHarness } from "../support/session-fixture.js";
import { type AuthHarness, enroll, from, register, rfc6238Code, someKe1, startAuth } from "./auth-helpers.js";

let auth: AuthHarness;
let sessions: SessionHarness;
let ke1: Uint8Array;

beforeAll(async () => {
  auth = await startAuth(); // default limits: 10 per username / 15 min, backoff after 5, 100 per IP
  sessions = await createSessionHarness(auth.ctx, { tokens: auth.tokens });
  ke1 = await someKe1();
});
afterAll(async () => {
  await sessions?.close();
  await auth?.close();
});

const PASSWORD = "the owner's password";
const WEB = { "x-cypher-client": "web" };

/** Registers and enrolls an account; returns its TOTP secret. */
async function owner(username: string): Promise<string> {
  const { enrollmentToken } = await register(auth.client, username, PASSWORD, { ip: "198.51.100.200" });
  return (await enroll(auth.client, enrollmentToken, auth.ctx.clock.now())).secret;
}

/**
 * A whole login as a client would run it: LoginInit (with `deviceToken` in the field, or `headers`
 * carrying the browser's cookie), LoginFinish, CreateSession with the current TOTP code.
 */
async function fullLogin(username: string, secret: string, options: { deviceToken?: string; headers?: Record<string, string>; ip?: string } = {}) {
  const call = { headers: { ...from(options.ip ?? "198.51.100.7").headers, ...options.headers } };
  const { loginToken } = await logIn(auth.client, username, PASSWORD, { callOptions: call, deviceToken: options.deviceToken });
  nextTotpStep(auth.ctx);
  const code = rfc6238Code(secret, auth.ctx.clock.now());
  let setCookies: string[] = [];
  const created = await createSession(
    sessions.client,
    loginToken,
    { totpCode: code },
    "owner's laptop",
    callOptions(options.headers ?? {}, (headers) => (setCookies = headers.getSetCookie())),
  );
  return { created, setCookies };
}

/** What a LoginInit for `username` gets: "ok" or the error code's name. */
async function loginInitOutcome(username: string, ip: string, deviceToken = "", headers: Record<string, string> = {}): Promise<string> {
  try {
    await auth.client.loginInit({ username, ke1, deviceToken }, { headers: { ...from(ip).headers, ...headers } });
    return "ok";
  } catch (e) {
    return Code[ConnectError.from(e).code];
  }
}

/** 25 LoginInits from strangers (25 addresses), 20 s apart so the backoff (1, 2, 4, 8, 16 s) never stops them: the budget runs out. */
async function strangersHammer(username: string, net: number, alsoUsername?: string): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < 25; i++) {
    outcomes.push(await loginInitOutcome(username, `10.${net}.${i}.9`));
    if (alsoUsername !== undefined) await loginInitOutcome(alsoUsername, `10.${net + 100}.${i}.9`);
    auth.ctx.clock.advance(20_000);
  }
  return outcomes;
}

describe("a known device's own login budget", () => {
  it("lets the owner log in fully with the device token after 25 stranger LoginInits; others stay locked out", async () => {
    const secret = await owner("device-owner");
    const first = await fullLogin("device-owner", secret);
    const deviceToken = first.created.deviceToken;
    expect(deviceToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only its hash is stored, naming the account and the device.
    const rows = await auth.ctx.db.selectFrom("device_credentials").selectAll().execute();
    const row = rows.find((r) => r.device_name === "owner's laptop")!;
    expect(JSON.stringify(rows)).not.toContain(deviceToken);
    expect(row.user_id).toBe(first.created.session!.userId);

    const strangers = await strangersHammer("device-owner", 1);
    expect(strangers.slice(0, 10)).toEqual(Array(10).fill("ok"));
    expect(new Set(strangers.slice(10))).toEqual(new Set(["ResourceExhausted"]));

    // Without the token: still locked out, from any address. With it: a whole login.
    expect(await loginInitOutcome("device-owner", "198.51.100.7")).toBe("ResourceExhausted");
    const again = await fullLogin("device-owner", secret, { deviceToken });
    expect(again.created.session!.username).toBe("device-owner");
    expect(await loginInitOutcome("device-owner", "198.51.100.8")).toBe("ResourceExhausted");
  });

  it("ignores a malformed, unknown or other account's device token, answering as if none had been shown", async () => {
    const secret = await owner("device-victim");
    const otherSecret = await owner("device-other");
    await fullLogin("device-victim", secret);
    const foreign = (await fullLogin("device-other", otherSecret)).created.deviceToken;
    await strangersHammer("device-victim", 2, "device-nobody"); // an unknown username, locked the same way
    for (const username of ["device-victim", "device-nobody"]) {
      for (const token of [foreign, "not a token", "A".repeat(43), ""]) {
        expect(await loginInitOutcome(username, "198.51.100.9", token), `${username} with ${JSON.stringify(token)}`).toBe("ResourceExhausted");
      }
    }
  });

  it("reads the device token from the __Host- cookie in browser mode, and never without the web header", async () => {
    const secret = await owner("device-browser");
    const { created, setCookies } = await fullLogin("device-browser", secret, { headers: WEB });
    expect(created.deviceToken).toBe("");
    const cookie = setCookies.find((c) => c.startsWith("__Host-cypher_device="))!;
    const token = cookie.slice("__Host-cypher_device=".length, cookie.indexOf(";"));
    await strangersHammer("device-browser", 4);
    const headers = { ...WEB, cookie: `theme=dark; __Host-cypher_device=${token}` };
    expect(await loginInitOutcome("device-browser", "198.51.100.10", "", { cookie: headers.cookie })).toBe("ResourceExhausted");
    const again = await fullLogin("device-browser", secret, { headers });
    expect(again.created.session!.username).toBe("device-browser");
  });

  it("stops helping once the owner logs out everywhere", async () => {
    const secret = await owner("device-revoked");
    const { created } = await fullLogin("device-revoked", secret);
    await strangersHammer("device-revoked", 5);
    expect(await loginInitOutcome("device-revoked", "198.51.100.11", created.deviceToken)).toBe("ok");
    await sessions.client.logout({ allSessions: true }, bearer(created.tokens!.accessToken));
    expect(await loginInitOutcome("device-revoked", "198.51.100.11", created.deviceToken)).toBe("ResourceExhausted");
  });

  it("gives the device a budget and backoff of its own, which a successful login resets and strangers never touch", async () => {
    const secret = await owner("device-budget");
    const { created } = await fullLogin("device-budget", secret);
    const device = created.deviceToken;
    // Five free attempts on the device's budget, then its own backoff gate.
    const outcomes = [];
    for (let i = 0; i < 6; i++) outcomes.push(await loginInitOutcome("device-budget", "198.51.100.12", device));
    expect(outcomes).toEqual(["ok", "ok", "ok", "ok", "ok", "ResourceExhausted"]);
    // ... which the username's budget did not feel: a stranger still has free attempts.
    expect(await loginInitOutcome("device-budget", "198.51.100.13")).toBe("ok");
    // A successful device login clears the device's budget, not the username's.
    auth.ctx.clock.advance(2_000);
    await fullLogin("device-budget", secret, { deviceToken: device });
    const { id } = await auth.ctx.db.selectFrom("device_credentials").select("id").where("token_hash", "=", deviceTokenHash(device)).executeTakeFirstOrThrow();
    const deviceKeys = AttemptLimits.deviceKeys(id);
    expect(await auth.ctx.kv.get(deviceKeys.gate)).toBeNull();
    const userKeys = AttemptLimits.keys("device-budget");
    // The stranger's attempt above is still counted against the username.
    const next = await auth.ctx.kv.increment(userKeys.budget, 1000);
    expect(next.count).toBe(2);
  });
});
