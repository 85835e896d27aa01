/**
 * The port through which token verification checks Ed25519 signatures, so the server can move the
 * work off its event loop (ed25519-thread-verifier.ts) while tests and tools keep a verifier that
 * needs no threads (`inProcessEd25519Verifier`).
 */
import { verify } from "node:crypto";
import { createKeyCache } from "./ed25519-batch.mjs";

export interface Ed25519Verifier {
  /**
   * Whether `signature` (64 bytes) is the Ed25519 signature of `message` by `publicKey` (32 raw
   * bytes). Rejects only when the check itself could not run (Unavailable), never for a bad signature.
   */
  verify(publicKey: Buffer, message: Buffer, signature: Buffer): Promise<boolean>;
  close(): Promise<void>;
}

/** Checks on libuv's thread pool (`crypto.verify` with a callback): no threads of its own to manage. */
export function inProcessEd25519Verifier(): Ed25519Verifier {
  const keyOf = createKeyCache();
  return {
    verify(publicKey, message, signature) {
      return new Promise((resolve) => {
        verify(null, message, keyOf(publicKey), signature, (error, ok) => resolve(error === null && ok));
      });
    },
    async close() {},
  };
}
