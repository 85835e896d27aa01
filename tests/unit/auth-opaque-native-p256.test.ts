/**
 * The native P-256 arithmetic (p256-native.mjs) against voprf-ts 0.8.0's sjcl arithmetic, the
 * code it replaces, byte for byte. sjcl costs ~25 ms per scalar multiplication (and ~4 ms per
 * point decompression), so the expensive comparisons run a few hundred cases and the cheap ones
 * (decoding, base multiplication against OpenSSL's own encodings) a few thousand.
 */
import { createECDH } from "node:crypto";
import { Group, GroupID, OprfID, generatePublicKey } from "@cloudflare/voprf-ts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { N, P, PublicPoint, SecretScalar } from "../../server/auth/opaque/p256-native.mjs";

const gg = new Group(GroupID.P256);
const G = Uint8Array.from(Buffer.from("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296", "hex"));
const MINUS_G = Uint8Array.from([0x02, ...G.subarray(1)]);

const toBytes = (value: bigint, length = 32): Uint8Array => Uint8Array.from(Buffer.from(value.toString(16).padStart(length * 2, "0"), "hex"));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** Scalars in [1, n − 1], edges included. */
const scalar = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: N - 1n }) },
  { weight: 1, arbitrary: fc.constantFrom(1n, 2n, N - 1n, N - 2n, (N - 1n) / 2n) },
);

/** Compressed points made by OpenSSL (k·G for random k), plus ±G. */
const point = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: N - 1n }).map((k) => pointOf(k)) },
  { weight: 1, arbitrary: fc.constantFrom(G, MINUS_G, pointOf(N - 1n), pointOf(2n)) },
);

function pointOf(k: bigint): Uint8Array {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(toBytes(k));
  return Uint8Array.from(ecdh.getPublicKey(null, "compressed"));
}

/** What voprf-ts does in opaque-ts's tripleDH_IKM: deserialize, deserializeScalar, Group.mul, serialize. */
function stockMultiply(k: Uint8Array, pointBytes: Uint8Array): Uint8Array {
  const element = gg.deserialize(pointBytes as never);
  const s = gg.deserializeScalar(k as never);
  return Uint8Array.from(gg.serialize(Group.mul(s, element)));
}

function nativeMultiply(k: Uint8Array, pointBytes: Uint8Array): Uint8Array | null {
  const decoded = PublicPoint.decode(pointBytes);
  const loaded = SecretScalar.load(k);
  return decoded && loaded ? loaded.multiply(decoded) : null;
}

/** The outcome of running `f`: its bytes, or that it threw. */
function outcome(f: () => Uint8Array | null): string {
  try {
    const result = f();
    return result === null ? "null" : hex(result);
  } catch {
    return "throws";
  }
}

describe("native P-256 scalar multiplication", () => {
  it("equals voprf-ts's Group.mul byte for byte (200 random scalars and points, edges weighted in)", () => {
    fc.assert(
      fc.property(scalar, point, (k, pointBytes) => {
        const kBytes = toBytes(k);
        expect(hex(nativeMultiply(kBytes, pointBytes)!)).toBe(hex(stockMultiply(kBytes, pointBytes)));
      }),
      { numRuns: 200 },
    );
  });

  it("gets P = G and P = −G right (no addition P + G exists there)", () => {
    for (const k of [1n, 2n, 12345n, N - 1n]) {
      const kBytes = toBytes(k);
      expect(hex(nativeMultiply(kBytes, G)!)).toBe(hex(stockMultiply(kBytes, G)));
      expect(hex(nativeMultiply(kBytes, MINUS_G)!)).toBe(hex(stockMultiply(kBytes, MINUS_G)));
    }
  });

  it("one loaded scalar gives the same products as fresh ones, with several points", () => {
    fc.assert(
      fc.property(scalar, fc.array(point, { minLength: 2, maxLength: 3 }), (k, points) => {
        const loaded = SecretScalar.load(toBytes(k))!;
        for (const p of points) expect(hex(loaded.multiply(PublicPoint.decode(p)!)!)).toBe(hex(nativeMultiply(toBytes(k), p)!));
      }),
      { numRuns: 500 },
    );
  });

  it("does not answer for scalars the library would refuse or treat specially (0 and ≥ n): the caller falls back", () => {
    // Stock: 0 multiplies to the identity (serialized as one byte), ≥ n is refused when deserialized.
    expect(SecretScalar.load(toBytes(0n))).toBeNull();
    expect(hex(stockMultiply(toBytes(0n), G))).toBe("00");
    fc.assert(
      fc.property(fc.bigInt({ min: N, max: 2n ** 256n - 1n }), (k) => {
        expect(SecretScalar.load(toBytes(k))).toBeNull();
        expect(() => gg.deserializeScalar(toBytes(k) as never)).toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});

describe("native P-256 base multiplication", () => {
  it("equals voprf-ts's generatePublicKey (150 random scalars, edges weighted in)", () => {
    fc.assert(
      fc.property(scalar, (k) => {
        const kBytes = toBytes(k);
        expect(hex(SecretScalar.load(kBytes)!.publicKey())).toBe(hex(generatePublicKey(OprfID.OPRF_P256_SHA256, kBytes)));
      }),
      { numRuns: 150 },
    );
  });

  it("gives every scalar back as 32 bytes, leading zero bytes included, and a key generated from it loads again", () => {
    const small = new Uint8Array(32);
    small[1] = 0x42;
    small[31] = 7;
    expect(hex(SecretScalar.load(small)!.privateKey())).toBe(hex(small));
    // OpenSSL drops leading zeros for about one key in 256: 2,000 generated keys meet some.
    for (let i = 0; i < 2_000; i++) {
      const key = SecretScalar.generate().privateKey();
      expect(key).toHaveLength(32);
      expect(SecretScalar.load(key)).not.toBeNull();
    }
  });

  it("generated scalars match their public keys", () => {
    for (let i = 0; i < 20; i++) {
      const fresh = SecretScalar.generate();
      expect(hex(fresh.publicKey())).toBe(hex(generatePublicKey(OprfID.OPRF_P256_SHA256, fresh.privateKey())));
    }
  });
});

describe("native P-256 point decoding", () => {
  it("accepts exactly what voprf-ts decodes to the same point (1000 valid points)", () => {
    fc.assert(
      fc.property(point, (bytes) => {
        const decoded = PublicPoint.decode(bytes)!;
        expect(decoded).not.toBeNull();
        // Re-encoding what OpenSSL decoded gives back the bytes, as sjcl's deserialize/serialize does.
        expect(hex(decoded.uncompressed)).toBe(hex(gg.serialize(gg.deserialize(bytes as never), false)));
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses every x that is not on the curve, as voprf-ts does (300 random 33-byte strings)", () => {
    fc.assert(
      fc.property(fc.constantFrom(0x02, 0x03), fc.bigInt({ min: 0n, max: P - 1n }), (prefix, x) => {
        const bytes = Uint8Array.from([prefix, ...toBytes(x)]);
        const native = PublicPoint.decode(bytes);
        const stock = outcome(() => Uint8Array.from(gg.serialize(gg.deserialize(bytes as never))));
        if (native === null) expect(stock).toBe("throws");
        else expect(stock).toBe(hex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses wrong prefixes and lengths (the library refuses them too)", () => {
    const valid = pointOf(7n);
    for (const prefix of [0x00, 0x01, 0x04, 0x05, 0xff]) {
      const bytes = Uint8Array.from([prefix, ...valid.subarray(1)]);
      expect(PublicPoint.decode(bytes)).toBeNull();
      expect(outcome(() => Uint8Array.from(gg.deserialize(bytes as never) && []))).toBe("throws");
    }
    expect(PublicPoint.decode(valid.subarray(0, 32))).toBeNull();
    expect(PublicPoint.decode(new Uint8Array(0))).toBeNull();
  });

  it("refuses x ≥ p (non-canonical): the server answers those with InvalidArgument before the arithmetic", () => {
    // x = p + small: OpenSSL refuses the encoding. (sjcl would read x mod p; the server never lets
    // such bytes through: opaque-messages.ts refuses them with the same OpenSSL check.)
    for (let delta = 0n; delta < 40n; delta++) {
      const x = P + delta;
      if (x >= 2n ** 256n) break;
      for (const prefix of [0x02, 0x03]) expect(PublicPoint.decode(Uint8Array.from([prefix, ...toBytes(x)]))).toBeNull();
    }
  });
});
