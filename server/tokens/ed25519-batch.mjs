// Ed25519 verification requests packed into one buffer, so that a whole event-loop turn's worth
// crosses to a verification thread in one message (ed25519-thread-verifier.ts). Plain JavaScript
// so that worker threads load it unchanged (they run without tsx); types in ed25519-batch.d.mts.
//
// Layout, all integers little-endian:
//   u32 count, then per item: u32 messageLength, 32-byte public key, 64-byte signature, message.
import { createPublicKey, verify } from "node:crypto";

const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** Distinct keys a verifying side keeps as KeyObjects; a server has a handful (current, previous). */
const MAX_CACHED_KEYS = 64;

export function packBatch(items) {
  let size = 4;
  for (const item of items) size += 4 + KEY_BYTES + SIGNATURE_BYTES + item.message.length;
  const out = Buffer.alloc(size);
  let at = out.writeUInt32LE(items.length, 0);
  for (const { publicKey, signature, message } of items) {
    if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) throw new TypeError("an Ed25519 key is 32 bytes and a signature 64");
    at = out.writeUInt32LE(message.length, at);
    at += publicKey.copy(out, at);
    at += signature.copy(out, at);
    at += message.copy(out, at);
  }
  return out;
}

/** KeyObjects by raw public key, so a key is imported once, not per signature. */
export function createKeyCache() {
  const keys = new Map();
  return (raw) => {
    const id = raw.toString("base64");
    let key = keys.get(id);
    if (key === undefined) {
      if (keys.size >= MAX_CACHED_KEYS) keys.clear();
      key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
      keys.set(id, key);
    }
    return key;
  };
}

export function verifyPackedBatch(packed, keyOf) {
  const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const count = bytes.readUInt32LE(0);
  const results = new Uint8Array(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const length = bytes.readUInt32LE(at);
    at += 4;
    const publicKey = bytes.subarray(at, (at += KEY_BYTES));
    const signature = bytes.subarray(at, (at += SIGNATURE_BYTES));
    const message = bytes.subarray(at, (at += length));
    results[i] = verify(null, message, keyOf(publicKey), signature) ? 1 : 0;
  }
  return results;
}
