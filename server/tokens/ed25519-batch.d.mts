/** Types for ed25519-batch.mjs (plain JavaScript so that worker threads load it unchanged). */
import type { KeyObject } from "node:crypto";

export interface VerifyItem {
  /** Raw Ed25519 public key, 32 bytes. */
  publicKey: Buffer;
  /** 64 bytes. */
  signature: Buffer;
  message: Buffer;
}

/** The items in one buffer (layout in ed25519-batch.mjs); throws TypeError on a wrong-sized key or signature. */
export declare function packBatch(items: readonly VerifyItem[]): Buffer<ArrayBuffer>;

/** A lookup from a raw public key to its KeyObject, importing each key once (bounded). */
export declare function createKeyCache(): (raw: Buffer) => KeyObject;

/** One byte per packed item, in order: 1 if its signature verifies, 0 if not. Synchronous. */
export declare function verifyPackedBatch(packed: Uint8Array, keyOf: (raw: Buffer) => KeyObject): Uint8Array;
