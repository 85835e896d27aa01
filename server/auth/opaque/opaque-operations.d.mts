/** Types for opaque-operations.mjs (plain JavaScript so that worker threads load it unchanged). */

export declare class OpaqueInputError extends Error {
  readonly field: string;
  constructor(field: string);
}

export interface OpaqueServerKeys {
  oprfSeed: Uint8Array;
  akePrivateKey: Uint8Array;
  akePublicKey: Uint8Array;
  serverIdentity: string;
}

export interface OpaqueOperations {
  /** Serialized RegistrationResponse for a serialized RegistrationRequest. */
  registerInit(username: string, request: Uint8Array): Promise<Uint8Array>;
  /** Serialized KE2 and ExpectedAuthResult for a serialized KE1 against a serialized record. */
  authInit(username: string, ke1: Uint8Array, record: Uint8Array): Promise<{ ke2: Uint8Array; expected: Uint8Array }>;
}

export declare function createOpaqueOperations(keys: OpaqueServerKeys): OpaqueOperations;
