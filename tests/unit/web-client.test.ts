/**
 * The browser client's pure parts: the sentences people see for each failure, username
 * normalization (it must match the server's byte for byte, or OPAQUE never matches), code input,
 * and the access-token timing the session manager relies on.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, BadRequest_FieldViolationSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { normalizeUsername as serverNormalizeUsername, tryNormalizeUsername } from "../../server/auth/username.js";
import {
  describeError,
  EXPIRED_ENROLLMENT_MESSAGE,
  EXPIRED_LOGIN_MESSAGE,
  formatWait,
  NETWORK_DOWN_MESSAGE,
  SERVICE_UNAVAILABLE_MESSAGE,
  USERNAME_TAKEN_MESSAGE,
} from "../../web/src/client/error-messages.js";
import { OpaqueClientError } from "../../client/opaque-client.js";
import { FlowError } from "../../web/src/client/flow-error.js";
import { WRONG_CREDENTIALS_MESSAGE } from "../../web/src/client/login.js";
import { withOpaqueFailures } from "../../web/src/client/opaque-failure.js";
import { passwordProblem } from "../../web/src/client/password.js";
import { normalizeTotpCode } from "../../web/src/client/register.js";
import { normalizeUsername, usernameProblem } from "../../web/src/client/username.js";
import { accessTokenFrom, isFresh, isUsable, lifetimeFromClaims, refreshDelayMs } from "../../web/src/session/access-token.js";
import { deviceName } from "../../web/src/app/ui/device-name.js";

function unauthenticated(reason: string): ConnectError {
  return new ConnectError("authentication failed", Code.Unauthenticated, undefined, [{ desc: ErrorInfoSchema, value: { reason, domain: "cypher.dev" } }]);
}

function exhausted(seconds: number): ConnectError {
  return new ConnectError("too many attempts, try again later", Code.ResourceExhausted, undefined, [
    { desc: RetryInfoSchema, value: { retryDelay: { seconds: BigInt(seconds), nanos: 0 } } },
  ]);
}

/** The same error as a client receives it from the wire: details still encoded. */
function overTheWire(err: ConnectError): ConnectError {
  const details = err.details.map((d) =>
    "desc" in d ? { type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value as never)) } : d,
  );
  const wire = new ConnectError(err.rawMessage, err.code);
  wire.details.push(...details);
  return wire;
}

describe("error sentences", () => {
  it("uses one sentence for a wrong password and an unknown username", () => {
    expect(describeError(new FlowError("wrong-credentials", WRONG_CREDENTIALS_MESSAGE), "login").message).toBe("Wrong username or password.");
    expect(describeError(unauthenticated("LOGIN_FAILED"), "login").message).toBe("Wrong username or password.");
    expect(describeError(unauthenticated("TOKEN_INVALID"), "login").message).toBe("Wrong username or password.");
  });

  it("says how long to wait from google.rpc.RetryInfo", () => {
    const short = describeError(overTheWire(exhausted(42)), "login");
    expect(short.message).toBe("Too many attempts. Try again in 42 s.");
    expect(short.retryAfterSeconds).toBe(42);
    expect(describeError(exhausted(900), "second-factor").message).toBe("Too many attempts. Try again in 15 min.");
    expect(describeError(new ConnectError("slow down", Code.ResourceExhausted), "login").message).toBe("Too many attempts. Please wait a while and try again.");
  });

  it("tells an expired step from a wrong code", () => {
    expect(describeError(overTheWire(unauthenticated("TOKEN_EXPIRED")), "second-factor")).toMatchObject({ message: EXPIRED_LOGIN_MESSAGE, recovery: "restart" });
    expect(describeError(unauthenticated("SECOND_FACTOR_INVALID"), "second-factor")).toMatchObject({ recovery: "retry" });
    expect(describeError(unauthenticated("SECOND_FACTOR_INVALID"), "second-factor").message).toMatch(/code is not right/);
    expect(describeError(unauthenticated("TOKEN_INVALID"), "enroll")).toMatchObject({ message: EXPIRED_ENROLLMENT_MESSAGE, recovery: "restart" });
    expect(describeError(unauthenticated("SECOND_FACTOR_INVALID"), "enroll")).toMatchObject({ recovery: "retry" });
  });

  it("tells the network being down from the service being down", () => {
    const offline = new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch"));
    expect(describeError(offline, "login").message).toBe(NETWORK_DOWN_MESSAGE);
    expect(describeError(new TypeError("Failed to fetch"), "register").message).toBe(NETWORK_DOWN_MESSAGE);
    expect(describeError(new ConnectError("a storage backend is unavailable", Code.Unavailable), "login").message).toBe(SERVICE_UNAVAILABLE_MESSAGE);
  });

  it("names the field the server refused, and a taken username", () => {
    const bad = new ConnectError("invalid username", Code.InvalidArgument, undefined, [
      { desc: BadRequestSchema, value: { fieldViolations: [create(BadRequest_FieldViolationSchema, { field: "username", description: "must be 3-64 characters" })] } },
    ]);
    expect(describeError(bad, "register").message).toBe("Please check the username: must be 3-64 characters.");
    expect(describeError(new ConnectError("taken", Code.AlreadyExists), "register").message).toBe(USERNAME_TAKEN_MESSAGE);
  });

  it("formats waits for people", () => {
    expect(formatWait(1)).toBe("1 s");
    expect(formatWait(119)).toBe("119 s");
    expect(formatWait(120)).toBe("2 min");
    expect(formatWait(7200)).toBe("2 h");
  });
});

describe("usernames, passwords and codes", () => {
  it("normalizes usernames exactly as the server does", () => {
    for (const input of ["Alice", "ＡＬＩＣＥ", "alice@Example.COM", "Ǆemal", "ﬁne.user", "x_y-z"]) {
      expect(normalizeUsername(input), input).toBe(serverNormalizeUsername(input));
    }
    expect(normalizeUsername("ＡＬＩＣＥ")).toBe("alice");
  });

  it("accepts and refuses the same usernames as the server", () => {
    const inputs = ["ab", "abc", "a".repeat(64), "a".repeat(65), "alice smith", "éclair", "e\u0301clair", "\u0301abc", "١٢٣", "Ⅻabc", "x²y", "a/b", "a+b", "user@host", "日本語"];
    for (const input of inputs) {
      expect(usernameProblem(normalizeUsername(input)) === null, input).toBe(tryNormalizeUsername(input) !== null);
    }
  });

  it("explains what is wrong with a username", () => {
    expect(usernameProblem("al")).toMatch(/at least 3/);
    expect(usernameProblem("a".repeat(65))).toMatch(/at most 64/);
    expect(usernameProblem("alice smith")).toMatch(/only letters, digits/);
    expect(usernameProblem("alice.smith@example.com")).toBeNull();
  });

  it("asks for at least 12 characters of password and nothing else", () => {
    expect(passwordProblem("elevenchars")).toMatch(/at least 12/);
    expect(passwordProblem("twelve chars")).toBeNull();
    expect(passwordProblem("🔑".repeat(11))).toMatch(/at least 12/); // characters, not UTF-16 units
    expect(passwordProblem("🔑".repeat(12))).toBeNull();
    expect(passwordProblem("x".repeat(1024))).toBeNull();
    expect(passwordProblem("x".repeat(1025))).toMatch(/at most 1024/);
  });

  it("accepts codes the way authenticator apps show them", () => {
    expect(normalizeTotpCode("123 456")).toBe("123456");
    expect(normalizeTotpCode(" 123-456 ")).toBe("123456");
    expect(() => normalizeTotpCode("12345")).toThrow(/6-digit/);
    expect(() => normalizeTotpCode("12345a")).toThrow(FlowError);
  });

  it("names the device by browser and system only", () => {
    expect(deviceName("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36")).toBe("Chrome on Linux");
    expect(deviceName("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1")).toBe("Safari on iOS");
    expect(deviceName("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0")).toBe("Firefox on Windows");
  });
});

describe("access-token timing", () => {
  const token = (iat: string, exp: string) => `v4.public.${Buffer.concat([Buffer.from(JSON.stringify({ iat, exp })), Buffer.alloc(64)]).toString("base64url")}.footer`;

  it("reads the lifetime from the token's claims, whatever the local clock says", () => {
    expect(lifetimeFromClaims(token("2026-11-21T12:00:00Z", "2026-11-21T12:15:00Z"))).toBe(900_000);
    expect(lifetimeFromClaims("not a token")).toBeUndefined();
    expect(lifetimeFromClaims("v4.public.!!!")).toBeUndefined();
    // A browser clock an hour off still gets a 15-minute token.
    const t = accessTokenFrom(token("2026-11-21T12:00:00Z", "2026-11-21T12:15:00Z"), new Date("2026-11-21T12:15:00Z"), Date.parse("2026-11-21T13:00:00Z"));
    expect(t.lifetimeMs).toBe(900_000);
    expect(t.expiresAtMs).toBe(Date.parse("2026-11-21T13:15:00Z"));
  });

  it("schedules the refresh at 70-80 % of the lifetime", () => {
    const t = accessTokenFrom(token("2026-11-21T12:00:00Z", "2026-11-21T12:15:00Z"), undefined, 0);
    expect(refreshDelayMs(t, 0, 0)).toBe(630_000);
    expect(refreshDelayMs(t, 0, 0.999_999)).toBeCloseTo(720_000, -1);
    expect(refreshDelayMs(t, 899_900, 0.5)).toBe(1_000); // never a busy loop
  });

  it("calls a token fresh while more than half its life is left, usable until the last seconds", () => {
    const t = accessTokenFrom(token("2026-11-21T12:00:00Z", "2026-11-21T12:15:00Z"), undefined, 0);
    expect(isFresh(t, 449_000)).toBe(true);
    expect(isFresh(t, 451_000)).toBe(false);
    expect(isUsable(t, 894_000)).toBe(true);
    expect(isUsable(t, 896_000)).toBe(false);
    expect(isFresh(undefined, 0)).toBe(false);
  });
});

describe("the client driver's OPAQUE failures, as the app words them", () => {
  const failing = (step: "start" | "read-answer" | "finish") => () => Promise.reject(new OpaqueClientError(step, "driver"));

  it("reports a login that does not finish as wrong credentials, and the rest as protocol failures", async () => {
    await expect(withOpaqueFailures("login", failing("finish"))).rejects.toMatchObject({ kind: "wrong-credentials", message: WRONG_CREDENTIALS_MESSAGE });
    await expect(withOpaqueFailures("login", failing("read-answer"))).rejects.toMatchObject({ kind: "protocol" });
    await expect(withOpaqueFailures("register", failing("finish"))).rejects.toMatchObject({ kind: "protocol" });
    await expect(withOpaqueFailures("register", failing("start"))).rejects.toBeInstanceOf(FlowError);
  });

  it("lets server errors through untouched, for describeError to word", async () => {
    const refused = new ConnectError("authentication failed", Code.Unauthenticated);
    await expect(withOpaqueFailures("login", () => Promise.reject(refused))).rejects.toBe(refused);
    await expect(withOpaqueFailures("login", async () => 42)).resolves.toBe(42);
  });
});
