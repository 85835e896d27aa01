/**
 * The OPAQUE server's hash, MAC and KDF on node:crypto against opaque-ts's own WebCrypto classes,
 * byte for byte, for random keys, messages and output lengths (one to several HKDF blocks).
 */
import { Hash, Hkdf, Hmac } from "@cloudflare/opaque-ts/lib/src/thecrypto.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NodeHash, NodeHkdf, NodeHmac } from "../../server/auth/opaque/node-primitives.mjs";

const SHA256 = Hash.ID.SHA256;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const bytes = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength });

describe("OPAQUE primitives on node:crypto", () => {
  it("SHA-256 equals the library's", async () => {
    await fc.assert(
      fc.asyncProperty(bytes(300), async (message) => {
        expect(hex(await new NodeHash(SHA256).sum(message))).toBe(hex(await new Hash(SHA256).sum(message)));
      }),
      { numRuns: 300 },
    );
  });

  it("HMAC-SHA256 signs as the library's and verifies only its own tag", async () => {
    await fc.assert(
      fc.asyncProperty(bytes(100, 1), bytes(300), fc.nat(31), async (key, message, flip) => {
        const ours = await new NodeHmac(SHA256).with_key(key);
        const theirs = await new Hmac(SHA256).with_key(key);
        const tag = await theirs.sign(message);
        expect(hex(await ours.sign(message))).toBe(hex(tag));
        expect(await ours.verify(message, tag)).toBe(true);
        const wrong = Uint8Array.from(tag);
        wrong[flip] = wrong[flip]! ^ 0x80;
        expect(await ours.verify(message, wrong)).toBe(false);
        expect(await ours.verify(message, tag.subarray(0, 31))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("HKDF extract and expand equal the library's, for outputs of one to several blocks", async () => {
    await fc.assert(
      fc.asyncProperty(bytes(64, 1), bytes(100), bytes(100), fc.integer({ min: 1, max: 200 }), async (salt, ikm, info, length) => {
        const ours = new NodeHkdf(SHA256);
        const theirs = new Hkdf(SHA256);
        const prk = await theirs.extract(salt, ikm);
        expect(hex(await ours.extract(salt, ikm))).toBe(hex(prk));
        expect(hex(await ours.expand(prk, info, length))).toBe(hex(await theirs.expand(prk, info, length)));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses an empty key, as WebCrypto does", async () => {
    const empty = new Uint8Array(0);
    await expect(new Hmac(SHA256).with_key(empty)).rejects.toThrow(/zero-length key/i);
    await expect(new NodeHmac(SHA256).with_key(empty)).rejects.toThrow(/zero-length key/i);
    await expect(new Hkdf(SHA256).extract(empty, Uint8Array.of(1))).rejects.toThrow(/zero-length key/i);
    await expect(new NodeHkdf(SHA256).extract(empty, Uint8Array.of(1))).rejects.toThrow(/zero-length key/i);
    await expect(new NodeHkdf(SHA256).expand(empty, Uint8Array.of(1), 32)).rejects.toThrow(/zero-length key/i);
  });

  it("refuses an HKDF output longer than RFC 5869 allows (255 blocks)", async () => {
    const prk = new Uint8Array(32).fill(7);
    await expect(new NodeHkdf(SHA256).expand(prk, new Uint8Array(0), 255 * 32)).resolves.toHaveLength(255 * 32);
    await expect(new NodeHkdf(SHA256).expand(prk, new Uint8Array(0), 255 * 32 + 1)).rejects.toThrow(/HKDF-Expand/);
  });
});
