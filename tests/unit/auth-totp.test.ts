import { afterEach, describe, expect, it, vi } from "vitest";
import { checkTotpCode, newTotpSecret, totpCodeAt, totpUri } from "../../server/auth/totp.js";
import { rfc6238Code } from "../rpc/auth-helpers.js";

// RFC 6238 appendix B, SHA-1, secret "12345678901234567890" (base32 below). The RFC lists 8-digit
// codes; a 6-digit code is the same number mod 10^6, i.e. the last six digits.
const RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC_VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

afterEach(() => {
  vi.useRealTimers();
});

describe("TOTP (RFC 6238, SHA-1, 6 digits, 30 s)", () => {
  it("matches the RFC 6238 test vectors, as does the tests' independent implementation", async () => {
    for (const [seconds, eightDigits] of RFC_VECTORS) {
      const at = new Date(seconds * 1000);
      expect(await totpCodeAt(RFC_SECRET, at)).toBe(eightDigits.slice(2));
      expect(rfc6238Code(RFC_SECRET, at)).toBe(eightDigits.slice(2));
      expect(rfc6238Code(RFC_SECRET, at, 30, 8)).toBe(eightDigits);
    }
  });

  it("takes time from its argument, not from the system clock", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(1_111_111_111_000));
    const at = new Date(59_000);
    expect(await totpCodeAt(RFC_SECRET, at)).toBe("287082");
    expect(await checkTotpCode({ secret: RFC_SECRET, code: "287082", at, lastUsedStep: null })).toEqual({ valid: true, step: 1 });
    expect(await checkTotpCode({ secret: RFC_SECRET, code: "287082", at: new Date(), lastUsedStep: null })).toEqual({ valid: false });
  });

  it("accepts the previous and next step, not two steps away", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(1_234_567_890_000));
    const secret = newTotpSecret();
    const now = new Date();
    const step = Math.floor(now.getTime() / 30_000);
    for (const [offsetSteps, valid] of [[-2, false], [-1, true], [0, true], [1, true], [2, false]] as const) {
      const code = rfc6238Code(secret, new Date(now.getTime() + offsetSteps * 30_000));
      const result = await checkTotpCode({ secret, code, at: now, lastUsedStep: null });
      // A code of another step may coincide with an accepted one (1 in 10^6): only check clear cases.
      if (valid) expect(result).toEqual({ valid: true, step: step + offsetSteps });
      else if (![-1, 0, 1].some((d) => rfc6238Code(secret, new Date(now.getTime() + d * 30_000)) === code)) expect(result.valid).toBe(false);
    }
  });

  it("refuses a step at or before the last one used (replay)", async () => {
    const at = new Date(1_111_111_111_000);
    const step = Math.floor(at.getTime() / 30_000);
    const code = rfc6238Code(RFC_SECRET, at);
    expect(await checkTotpCode({ secret: RFC_SECRET, code, at, lastUsedStep: step - 1 })).toEqual({ valid: true, step });
    expect(await checkTotpCode({ secret: RFC_SECRET, code, at, lastUsedStep: step })).toEqual({ valid: false });
  });

  it("answers invalid, without throwing, for malformed codes", async () => {
    for (const code of ["", "12345", "1234567", "abcdef", "12 456", "١٢٣٤٥٦"]) {
      expect(await checkTotpCode({ secret: RFC_SECRET, code, at: new Date(59_000), lastUsedStep: null })).toEqual({ valid: false });
    }
  });

  it("makes 20-byte secrets and otpauth URIs an authenticator app understands", () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(totpUri({ issuer: "Cypher", username: "alice", secret }));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(uri.searchParams.get("secret")).toBe(secret);
    expect(uri.searchParams.get("issuer")).toBe("Cypher");
  });
});
