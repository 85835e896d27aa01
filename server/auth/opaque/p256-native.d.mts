/** Types for p256-native.mjs (plain JavaScript so that worker threads load it unchanged). */

/** Field prime and group order of P-256. */
export declare const P: bigint;
export declare const N: bigint;

export declare class PublicPoint {
  /** Null unless `bytes` is a compressed P-256 point OpenSSL accepts. */
  static decode(bytes: Uint8Array): PublicPoint | null;
  readonly uncompressed: Uint8Array;
  readonly x: bigint;
  readonly y: bigint;
}

export declare class SecretScalar {
  /** Null for a scalar OpenSSL refuses (0 or ≥ n, or not 32 bytes). */
  static load(bytes: Uint8Array): SecretScalar | null;
  static generate(): SecretScalar;
  privateKey(): Uint8Array;
  /** k·G, compressed. */
  publicKey(): Uint8Array;
  /** k·P, compressed, or null if the recovery's check fails. */
  multiply(point: PublicPoint): Uint8Array | null;
}
