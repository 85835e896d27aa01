/**
 * AuthService end to end over an in-memory Connect transport, driven by the real opaque-ts client
 * (default scrypt stretching: ~0.4 s per client step, so full logins are few).
 */
import { createHmac, randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveFakeRecord } from "../../server/auth/opaque/fake-record.js";
import { AUTHENTICATION_FAILED_MESSAGE } from "../../server/errors.js";
import {
  type AuthHarness,
  beginLogin,
  cfg,
  enroll,
  expectCode,
  from,
  reasonOf,
  register,
  rfc6238Code,
  someKe1,
  startAuth,
  violationsOf,
} from "./auth-helpers.js";
import { OpaqueClient, RegistrationResponse } from "@cloudflare/opaque-ts";

let h: AuthHarness;

beforeAll(async () => {
  // Registration limits are exercised in auth-limits.test.ts; here they must not get in the way.
  h = await startAuth({ REGISTER_MAX_PER_IP: "1000" });
});
afterAll(() => h.close());

async function auditEvents(userId: string): Promise<string[]> {
  const rows = await h.ctx.db.selectFrom("audit_log").select("event").where("user_id", "=", userId).orderBy("id").execute();
  return rows.map((r) => r.event);
}

async function userRow(username: string) {
  return h.ctx.db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
}

/** A RegistrationRecord from the real client, without calling RegisterFinish. */
async function someRecord(username: string): Promise<Uint8Array> {
  const opaque = new OpaqueClient(cfg);
  const request = await opaque.registerInit("pw");
  if (request instanceof Error) throw request;
  const init = await h.client.registerInit({ username: "record-maker", registrationRequest: Uint8Array.from(request.serialize()) });
  const finished = await opaque.registerFinish(RegistrationResponse.deserialize(cfg, Array.from(init.registrationResponse)), init.serverIdentity, username);
  if (finished instanceof Error) throw finished;
  return Uint8Array.from(finished.record.serialize());
}

/** HKDF-Expand (RFC 5869) with SHA-256. */
function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac("sha256", prk).update(Buffer.concat([previous, info, Buffer.from([i])])).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** server public key ‖ envelope, unmasked from a KE2 with the record's masking key (as the client would with the right password). */
function unmaskCredentialResponse(ke2: Uint8Array, record: Uint8Array): Buffer {
  const maskingNonce = ke2.subarray(33, 65);
  const masked = ke2.subarray(65, 65 + 97);
  const pad = hkdfExpand(record.subarray(33, 65), Buffer.concat([maskingNonce, Buffer.from("CredentialResponsePad")]), 97);
  return Buffer.from(masked.map((b, i) => b ^ pad[i]!));
}

describe("registration, TOTP enrollment and login", () => {
  it("lets an independent client register, enroll TOTP and log in through LoginFinish", async () => {
    const startedAt = h.ctx.clock.now();
    const registered = await register(h.client, "Alice.Example", "correct horse battery staple");
    expect(registered.enrollmentToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(registered.serverIdentity).toBe("localhost");
    expect(registered.enrollmentExpiresAt.getTime()).toBe(startedAt.getTime() + 300_000);
    expect((await userRow("alice.example"))?.status).toBe("pending");

    const setup = await h.client.setupTotp({ enrollmentToken: registered.enrollmentToken });
    expect(setup.secret).toMatch(/^[A-Z2-7]{32}$/); // 20 bytes in base32
    const uri = new URL(setup.otpauthUri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toContain("alice.example");
    expect(uri.searchParams.get("issuer")).toBe("Cypher");
    expect(uri.searchParams.get("secret")).toBe(setup.secret);
    expect(Buffer.from(setup.qrCodePng.subarray(0, 8))).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

    const code = rfc6238Code(setup.secret, h.ctx.clock.now());
    const { recoveryCodes } = await h.client.verifyTotpSetup({ enrollmentToken: registered.enrollmentToken, code }, from("198.51.100.7"));
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const c of recoveryCodes) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);

    const user = await userRow("alice.example");
    expect(user).toMatchObject({ status: "active", enrollment_expires_at: null, activated_at: h.ctx.clock.now() });
    expect(Number(user!.totp_last_used_step)).toBe(Math.floor(h.ctx.clock.now().getTime() / 30_000));
    const storedCodes = await h.ctx.db.selectFrom("recovery_codes").select("code_hash").where("user_id", "=", user!.id).execute();
    expect(storedCodes).toHaveLength(10);
    const storedHex = storedCodes.map((r) => Buffer.from(r.code_hash).toString("hex"));
    for (const c of recoveryCodes) expect(storedHex.join()).not.toContain(Buffer.from(c).toString("hex"));

    const attempt = await beginLogin(h.client, "ALICE.example", "correct horse battery staple", { ip: "198.51.100.7" });
    expect(attempt.ok).toBe(true);
    if (!attempt.ok) return;
    expect(attempt.ke2).toHaveLength(259);
    expect(attempt.loginId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const finished = await h.client.loginFinish({ loginId: attempt.loginId, ke3: attempt.ke3 }, from("198.51.100.7"));
    const verified = await h.tokens.verify("login", finished.loginToken);
    expect(verified.claims).toMatchObject({ sub: user!.id, username: "alice.example" });
    expect(Number(finished.loginTokenExpiresAt?.seconds)).toBe(Math.floor(h.ctx.clock.now().getTime() / 1000) + 180);

    // The login state is consumed: the same login_id and KE3 do not work twice.
    const replay = await expectCode(h.client.loginFinish({ loginId: attempt.loginId, ke3: attempt.ke3 }), Code.Unauthenticated);
    expect(replay.rawMessage).toBe(AUTHENTICATION_FAILED_MESSAGE);

    expect(await auditEvents(user!.id)).toEqual(["account.registered", "enrollment.confirmed", "login.succeeded"]);
    const audit = await h.ctx.db.selectFrom("audit_log").selectAll().where("user_id", "=", user!.id).execute();
    expect(audit.find((r) => r.event === "login.succeeded")).toMatchObject({ ip: "198.51.100.7", user_agent: "auth-tests/1.0", username: "alice.example" });
    const everything = JSON.stringify(audit);
    for (const secret of [registered.enrollmentToken, setup.secret, finished.loginToken, code, ...recoveryCodes]) expect(everything).not.toContain(secret);
  });

  it("fails a wrong password in the client; a forged KE3 for that login is Unauthenticated and audited", async () => {
    const { enrollmentToken } = await register(h.client, "bob", "right password");
    await enroll(h.client, enrollmentToken, h.ctx.clock.now());
    const attempt = await beginLogin(h.client, "bob", "wrong password");
    expect(attempt.ok).toBe(false);
    if (attempt.ok) return;
    expect(attempt.clientError.message).toBe("EnvelopeRecoveryError");
    expect(attempt.ke2).toHaveLength(259);

    const forged = await expectCode(h.client.loginFinish({ loginId: attempt.loginId, ke3: randomBytes(32) }), Code.Unauthenticated);
    expect(forged.rawMessage).toBe(AUTHENTICATION_FAILED_MESSAGE);
    expect(reasonOf(forged)).toBe("LOGIN_FAILED");
    const bob = await userRow("bob");
    expect(await auditEvents(bob!.id)).toContain("login.failed");
  });

  it("answers an unknown username like a real one: same KE2 size, the same fake record on every probe", async () => {
    const ke1 = await someKe1();
    const probe = () => h.client.loginInit({ username: "nobody-here", ke1 }, from("203.0.113.9"));
    const [first, second] = [await probe(), await probe()];
    const real = await h.client.loginInit({ username: "alice.example", ke1 }, from("203.0.113.9"));
    expect(first.ke2).toHaveLength(real.ke2.length);
    expect(first.serverIdentity).toBe(real.serverIdentity);
    expect(first.loginId).not.toBe(second.loginId);
    // The OPRF evaluation depends only on the username and the seed, as for a real account.
    expect(first.ke2.subarray(0, 33)).toEqual(second.ke2.subarray(0, 33));
    // Both answers hide the same record: the one derived from the username (nonces differ, content does not).
    const fake = deriveFakeRecord(h.ctx.keys.opaque.oprfSeed, "nobody-here");
    const expected = Buffer.concat([h.ctx.keys.opaque.akePublicKey, fake.subarray(65)]);
    expect(unmaskCredentialResponse(first.ke2, fake)).toEqual(expected);
    expect(unmaskCredentialResponse(second.ke2, fake)).toEqual(expected);
    expect(first.ke2.subarray(33, 65)).not.toEqual(second.ke2.subarray(33, 65));

    // The client fails exactly as with a wrong password, and LoginFinish exactly as for a wrong KE3.
    const attempt = await beginLogin(h.client, "nobody-here", "any password");
    expect(attempt.ok).toBe(false);
    if (attempt.ok) return;
    expect(attempt.clientError.message).toBe("EnvelopeRecoveryError");
    const refused = await expectCode(h.client.loginFinish({ loginId: attempt.loginId, ke3: randomBytes(32) }), Code.Unauthenticated);
    expect(refused.rawMessage).toBe(AUTHENTICATION_FAILED_MESSAGE);
    expect(reasonOf(refused)).toBe("LOGIN_FAILED");
  });

  it("does not let a pending account log in, even with the right password", async () => {
    await register(h.client, "pending-paula", "her password");
    const attempt = await beginLogin(h.client, "pending-paula", "her password");
    expect(attempt.ok).toBe(false);
    if (!attempt.ok) expect(attempt.clientError.message).toBe("EnvelopeRecoveryError");
  });

  it("refuses LoginFinish for an expired, unknown or malformed login_id", async () => {
    const init = await h.client.loginInit({ username: "alice.example", ke1: await someKe1() }, from("203.0.113.10"));
    h.ctx.clock.advance(121_000);
    const expired = await expectCode(h.client.loginFinish({ loginId: init.loginId, ke3: randomBytes(32) }), Code.Unauthenticated);
    expect(reasonOf(expired)).toBe("TOKEN_INVALID");
    await expectCode(h.client.loginFinish({ loginId: randomBytes(24).toString("base64url"), ke3: randomBytes(32) }), Code.Unauthenticated);
    await expectCode(h.client.loginFinish({ loginId: "not a login id", ke3: randomBytes(32) }), Code.Unauthenticated);
    const missing = await expectCode(h.client.loginFinish({ loginId: "", ke3: randomBytes(31) }), Code.InvalidArgument);
    expect(violationsOf(missing).map((v) => v.field)).toEqual(["login_id", "ke3"]);
  });
});

describe("usernames", () => {
  it("are normalized with NFKC and lower-cased, so look-alike spellings are the same account", async () => {
    await register(h.client, "Ｃａｒｏｌ_Ｗ", "pw"); // full-width letters
    expect(await userRow("carol_w")).toBeDefined();
    const ke1 = await someKe1();
    for (const spelling of ["carol_w", "CAROL_W", "Ｃａｒｏｌ_w"]) {
      const error = await expectCode(h.client.registerInit({ username: spelling, registrationRequest: ke1.subarray(0, 33) }), Code.AlreadyExists);
      expect(error.rawMessage).toBe("username is taken");
    }
  });

  it("refuse anything but 3-64 letters, digits, '.', '_', '-', '@' with a BadRequest field violation", async () => {
    const ke1 = await someKe1();
    for (const bad of ["", "ab", "a".repeat(65), "has space", "tab\there", "smile😀", "zero\u200bwidth", "semi;colon", "slash/name", "\u0301abc"]) {
      const error = await expectCode(h.client.registerInit({ username: bad, registrationRequest: ke1.subarray(0, 33) }), Code.InvalidArgument);
      expect(violationsOf(error)).toEqual([{ field: "username", description: expect.stringContaining("3-64") }]);
      await expectCode(h.client.loginInit({ username: bad, ke1 }), Code.InvalidArgument);
    }
    // Letters of any script (with their combining marks), digits, and the four symbols are fine.
    for (const good of ["дмитрий.иванов", "山田たろう", "ज्योति", "user@example.com", "a-b_c.d", "x".repeat(64)]) {
      await expect(h.client.registerInit({ username: good, registrationRequest: ke1.subarray(0, 33) })).resolves.toBeDefined();
    }
  });
});

describe("look-alike usernames (UTS #39)", () => {
  it("refuse a name that mixes scripts with InvalidArgument, at RegisterInit and RegisterFinish; login is unaffected", async () => {
    const ke1 = await someKe1();
    const record = new Uint8Array(129);
    record.set(ke1.subarray(0, 33));
    for (const mixed of ["pаypal", "ivan.иван", "αlpha"]) {
      const init = await expectCode(h.client.registerInit({ username: mixed, registrationRequest: ke1.subarray(0, 33) }), Code.InvalidArgument);
      expect(violationsOf(init)).toEqual([{ field: "username", description: expect.stringContaining("mix") }]);
      await expectCode(h.client.registerFinish({ username: mixed, registrationRecord: record }), Code.InvalidArgument);
      await expect(h.client.loginInit({ username: mixed, ke1 })).resolves.toBeDefined();
    }
  });

  it("refuse a name whose confusable skeleton equals an existing account's, like a taken name", async () => {
    const ke1 = await someKe1();
    const record = new Uint8Array(129);
    record.set(ke1.subarray(0, 33));
    await register(h.client, "mike.lookalike", "pw");
    await register(h.client, "асе", "pw"); // Cyrillic а, с, е
    // "rn" looks like "m"; all-Latin "ace" looks like the Cyrillic name.
    for (const lookalike of ["rnike.lookalike", "ace"]) {
      const init = await expectCode(h.client.registerInit({ username: lookalike, registrationRequest: ke1.subarray(0, 33) }), Code.AlreadyExists);
      expect(init.rawMessage).toBe("username is taken");
      await expectCode(h.client.registerFinish({ username: lookalike, registrationRecord: record }), Code.AlreadyExists);
    }
    expect(await userRow("rnike.lookalike")).toBeUndefined();
  });
});

describe("OPAQUE messages that are not OPAQUE messages", () => {
  const notAPoint = (length: number) => {
    const bytes = new Uint8Array(length).fill(0xab);
    bytes[0] = 0x02;
    return bytes;
  };

  it("are refused with InvalidArgument naming the field, never Internal", async () => {
    const ke1 = await someKe1();
    const record = await someRecord("dave");
    const cases: [string, () => Promise<unknown>, string][] = [
      ["empty request", () => h.client.registerInit({ username: "dave", registrationRequest: new Uint8Array() }), "registration_request"],
      ["short request", () => h.client.registerInit({ username: "dave", registrationRequest: ke1.subarray(0, 32) }), "registration_request"],
      ["request off the curve", () => h.client.registerInit({ username: "dave", registrationRequest: notAPoint(33) }), "registration_request"],
      ["request with a bad prefix", () => h.client.registerInit({ username: "dave", registrationRequest: Uint8Array.of(0x04, ...ke1.subarray(1, 33)) }), "registration_request"],
      ["long record", () => h.client.registerFinish({ username: "dave", registrationRecord: Uint8Array.of(...record, 0) }), "registration_record"],
      ["record key off the curve", () => h.client.registerFinish({ username: "dave", registrationRecord: Uint8Array.of(...notAPoint(33), ...record.subarray(33)) }), "registration_record"],
      ["short KE1", () => h.client.loginInit({ username: "dave", ke1: ke1.subarray(0, 97) }), "ke1"],
      ["KE1 blinded element off the curve", () => h.client.loginInit({ username: "dave", ke1: Uint8Array.of(...notAPoint(33), ...ke1.subarray(33)) }), "ke1"],
      ["KE1 key share off the curve", () => h.client.loginInit({ username: "dave", ke1: Uint8Array.of(...ke1.subarray(0, 65), ...notAPoint(33)) }), "ke1"],
      ["long KE3", () => h.client.loginFinish({ loginId: "x".repeat(32), ke3: new Uint8Array(33) }), "ke3"],
    ];
    for (const [name, call, field] of cases) {
      const error = await expectCode(call(), Code.InvalidArgument);
      expect(violationsOf(error).map((v) => v.field), name).toEqual([field]);
    }
    expect(await userRow("dave")).toBeUndefined();
  });

  it("are reported together with a bad username, one violation per field", async () => {
    const error = await expectCode(h.client.registerInit({ username: "x", registrationRequest: notAPoint(33) }), Code.InvalidArgument);
    expect(violationsOf(error).map((v) => v.field)).toEqual(["username", "registration_request"]);
  });
});

describe("pending accounts", () => {
  it("hold their username until the enrollment window closes, then free it", async () => {
    const first = await register(h.client, "erin", "pw one");
    const ke1 = await someKe1();
    await expectCode(h.client.registerInit({ username: "erin", registrationRequest: ke1.subarray(0, 33) }), Code.AlreadyExists);
    await expectCode(h.client.registerFinish({ username: "erin", registrationRecord: await someRecord("erin") }), Code.AlreadyExists);

    h.ctx.clock.advance(300_000);
    // Expired (nothing swept yet): the row is gone for every query.
    await expectCode(h.client.setupTotp({ enrollmentToken: first.enrollmentToken }), Code.Unauthenticated);
    const second = await register(h.client, "erin", "pw two");
    const rows = await h.ctx.db.selectFrom("users").select("id").where("username", "=", "erin").execute();
    expect(rows).toHaveLength(1);
    await expect(enroll(h.client, second.enrollmentToken, h.ctx.clock.now())).resolves.toHaveProperty("recoveryCodes");
    await expectCode(h.client.setupTotp({ enrollmentToken: first.enrollmentToken }), Code.Unauthenticated);
  });
});

describe("TOTP enrollment", () => {
  it("requires SetupTotp before VerifyTotpSetup, and refuses both once enrollment is complete", async () => {
    const { enrollmentToken } = await register(h.client, "frank", "pw");
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: "123456" }), Code.FailedPrecondition);
    await enroll(h.client, enrollmentToken, h.ctx.clock.now());
    const again = await expectCode(h.client.setupTotp({ enrollmentToken }), Code.FailedPrecondition);
    expect(again.rawMessage).toBe("enrollment already completed");
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: "123456" }), Code.FailedPrecondition);
  });

  it("replaces the secret when SetupTotp is called again; only the newest secret's codes count", async () => {
    const { enrollmentToken } = await register(h.client, "grace", "pw");
    const old = await h.client.setupTotp({ enrollmentToken });
    const current = await h.client.setupTotp({ enrollmentToken });
    expect(current.secret).not.toBe(old.secret);
    const now = h.ctx.clock.now();
    const oldCode = rfc6238Code(old.secret, now);
    const newCode = rfc6238Code(current.secret, now);
    if (oldCode !== newCode) {
      const wrong = await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: oldCode }), Code.Unauthenticated);
      expect(reasonOf(wrong)).toBe("SECOND_FACTOR_INVALID");
    }
    // Spaces, as authenticator apps display them, are ignored.
    const spaced = `${newCode.slice(0, 3)} ${newCode.slice(3)}`;
    await expect(h.client.verifyTotpSetup({ enrollmentToken, code: spaced })).resolves.toHaveProperty("recoveryCodes");
    const row = await userRow("grace");
    expect(Buffer.from(row!.totp_secret_encrypted!).toString("latin1")).not.toContain(current.secret);
  });

  it("burns the enrollment after 5 wrong codes: even the right code is refused and the username is free", async () => {
    const { enrollmentToken } = await register(h.client, "heidi", "pw");
    const { secret } = await h.client.setupTotp({ enrollmentToken });
    const right = rfc6238Code(secret, h.ctx.clock.now());
    const wrong = right === "000000" ? "111111" : "000000";
    // Malformed codes are InvalidArgument and do not spend attempts.
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: "12345" }), Code.InvalidArgument);
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: "abcdef" }), Code.InvalidArgument);
    for (let i = 0; i < 4; i++) await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: wrong }), Code.Unauthenticated);
    expect((await userRow("heidi"))?.enrollment_failed_attempts).toBe(4);
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: wrong }), Code.Unauthenticated);
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: right }), Code.Unauthenticated);
    await expectCode(h.client.setupTotp({ enrollmentToken }), Code.Unauthenticated);
    expect(await userRow("heidi")).toBeUndefined();
    const burnt = await h.ctx.db.selectFrom("audit_log").selectAll().where("username", "=", "heidi").where("event", "=", "enrollment.expired").execute();
    expect(burnt).toHaveLength(1);
    expect(burnt[0]!.details).toMatchObject({ reason: "too_many_wrong_attempts" });
    await expect(register(h.client, "heidi", "pw again")).resolves.toHaveProperty("enrollmentToken");
  });

  it("tests at most 5 codes even when guesses arrive in parallel", async () => {
    const { enrollmentToken } = await register(h.client, "ivan", "pw");
    const { secret } = await h.client.setupTotp({ enrollmentToken });
    const now = h.ctx.clock.now().getTime();
    const accepted = new Set([-30_000, 0, 30_000].map((d) => rfc6238Code(secret, new Date(now + d))));
    const guesses = Array.from({ length: 30 }, (_, i) => String((1 + i * 7919) % 1_000_000).padStart(6, "0")).filter((c) => !accepted.has(c));
    const results = await Promise.allSettled(guesses.map((code) => h.client.verifyTotpSetup({ enrollmentToken, code })));
    const reasons = results.map((r) => (r.status === "rejected" ? reasonOf(ConnectError.from(r.reason)) : "accepted"));
    // Each guess spends an attempt before its code is checked: exactly 5 were checked, the rest found no attempt left.
    expect(reasons.filter((r) => r === "SECOND_FACTOR_INVALID")).toHaveLength(5);
    expect(reasons.filter((r) => r === "TOKEN_INVALID")).toHaveLength(guesses.length - 5);
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken, code: rfc6238Code(secret, new Date(now)) }), Code.Unauthenticated);
    expect(await userRow("ivan")).toBeUndefined();
  });

  it("refuses an unknown or malformed enrollment token as Unauthenticated, an empty one as InvalidArgument", async () => {
    const unknown = await expectCode(h.client.setupTotp({ enrollmentToken: randomBytes(32).toString("base64url") }), Code.Unauthenticated);
    expect(unknown.rawMessage).toBe(AUTHENTICATION_FAILED_MESSAGE);
    await expectCode(h.client.setupTotp({ enrollmentToken: "garbage" }), Code.Unauthenticated);
    await expectCode(h.client.verifyTotpSetup({ enrollmentToken: "garbage", code: "123456" }), Code.Unauthenticated);
    const empty = await expectCode(h.client.verifyTotpSetup({ enrollmentToken: "", code: "" }), Code.InvalidArgument);
    expect(violationsOf(empty).map((v) => v.field)).toEqual(["enrollment_token", "code"]);
  });
});
