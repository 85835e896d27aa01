/**
 * Where the expensive OPAQUE operations run. The server uses a pool of worker threads
 * (`opaque-worker-pool.ts`) so the event loop stays free; the in-thread executor below runs the
 * very same code on the calling thread and exists for comparison (the event-loop benchmark's
 * baseline) and for tools that do not care about latency.
 */
import { invalidArgument } from "../../errors.js";
import type { KeyMaterial } from "../../keys/key-material.js";
import { createOpaqueOperations, OpaqueInputError, type OpaqueServerKeys } from "./opaque-operations.mjs";

export interface AuthInitResult {
  /** Serialized KE2, sent to the client. */
  ke2: Uint8Array;
  /** Serialized ExpectedAuthResult (secret): what LoginFinish checks the KE3 against. */
  expected: Uint8Array;
}

export interface OpaqueExecutor {
  /** Serialized RegistrationResponse. Throws InvalidArgument for a request the library refuses. */
  registerInit(username: string, request: Uint8Array): Promise<Uint8Array>;
  /** KE2 and expected result for `ke1` against `record`. Throws InvalidArgument for a KE1 the library refuses. */
  authInit(username: string, ke1: Uint8Array, record: Uint8Array): Promise<AuthInitResult>;
  /** False when a call now would be refused for lack of capacity (lets callers refuse before counting an attempt). */
  hasCapacity(): boolean;
  /** Stops the executor; calls in flight or queued fail. */
  close(): Promise<void>;
}

export function opaqueServerKeys(keys: KeyMaterial, serverIdentity: string): OpaqueServerKeys {
  return {
    oprfSeed: keys.opaque.oprfSeed,
    akePrivateKey: keys.opaque.akePrivateKey,
    akePublicKey: keys.opaque.akePublicKey,
    serverIdentity,
  };
}

/** An OpaqueInputError (from this thread or relayed from a worker) as the client sees it. */
export function opaqueInputRejected(field: string): Error {
  return invalidArgument({ field, description: "is not a valid OPAQUE message" });
}

/** Runs OPAQUE on the calling thread (a few ms of event-loop time per LoginInit). Baseline only. */
export function createInlineOpaqueExecutor(keys: OpaqueServerKeys): OpaqueExecutor {
  const operations = createOpaqueOperations(keys);
  const translate = (error: unknown): never => {
    throw error instanceof OpaqueInputError ? opaqueInputRejected(error.field) : error;
  };
  return {
    registerInit: (username, request) => operations.registerInit(username, request).catch(translate),
    authInit: (username, ke1, record) => operations.authInit(username, ke1, record).catch(translate),
    hasCapacity: () => true,
    close: async () => {},
  };
}
