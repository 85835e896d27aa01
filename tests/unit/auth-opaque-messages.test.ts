import { createECDH, randomBytes } from "node:crypto";
import { getOpaqueConfig, OpaqueID, RegistrationRecord } from "@cloudflare/opaque-ts";
import { describe, expect, it } from "vitest";
import { deriveFakeRecord } from "../../server/auth/opaque/fake-record.js";
import { checkKe1, checkRegistrationRecord, isP256Point } from "../../server/auth/opaque/opaque-messages.js";
import { CypherError } from "../../server/errors.js";

const cfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);

function compressedPoint(): Buffer {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return ecdh.getPublicKey(null, "compressed");
}

describe("OPAQUE message checks", () => {
  it("tell P-256 points from other 33-byte strings", () => {
    const point = compressedPoint();
    expect(isP256Point(point)).toBe(true);
    const offCurve = Buffer.from(point);
    let found = false;
    // About half of all x coordinates are on the curve; find one that is not.
    for (let i = 0; i < 64 && !found; i++) {
      offCurve[32] = i;
      found = !isP256Point(offCurve);
    }
    expect(found).toBe(true);
    expect(isP256Point(Buffer.concat([Buffer.from([0x04]), point.subarray(1)]))).toBe(false);
    expect(isP256Point(point.subarray(0, 32))).toBe(false);
    expect(isP256Point(new Uint8Array(33))).toBe(false);
  });

  it("check lengths and points, reporting the field", () => {
    const ke1 = Buffer.concat([compressedPoint(), randomBytes(32), compressedPoint()]);
    expect(() => checkKe1(ke1)).not.toThrow();
    const bad = Buffer.from(ke1);
    bad.fill(0xff, 66);
    expect(() => checkKe1(bad)).toThrow(CypherError);
    expect(() => checkKe1(ke1.subarray(1))).toThrow(/98 bytes/);
    expect(() => checkRegistrationRecord(Buffer.concat([compressedPoint(), randomBytes(96)]))).not.toThrow();
  });
});

describe("fake records", () => {
  const seed = randomBytes(32);

  it("are the same for the same username and seed, and differ otherwise", () => {
    const a = deriveFakeRecord(seed, "alice");
    expect(deriveFakeRecord(seed, "alice")).toEqual(a);
    expect(deriveFakeRecord(seed, "alicf")).not.toEqual(a);
    expect(deriveFakeRecord(randomBytes(32), "alice")).not.toEqual(a);
  });

  it("look like real records: 129 bytes, a valid client public key, and opaque-ts accepts them", () => {
    for (const name of ["bob", "владимир", "x".repeat(64)]) {
      const record = deriveFakeRecord(seed, name);
      expect(record).toHaveLength(129);
      expect(() => checkRegistrationRecord(record)).not.toThrow();
      expect(RegistrationRecord.deserialize(cfg, Array.from(record)).serialize()).toEqual(Array.from(record));
    }
  });
});
