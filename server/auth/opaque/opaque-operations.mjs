// The two OPAQUE server operations that cost real CPU: RegisterInit's OPRF evaluation (one P-256
// scalar multiplication) and LoginInit's credential response and 3DH key exchange (four, plus a
// key generation). They run opaque-ts's server with its arithmetic on OpenSSL
// (native-opaque-server.mjs), the only OPAQUE server the process uses. Plain JavaScript on
// purpose: a worker_threads entry is loaded by Node itself (vitest and tsx do not transform it), and this file is shared by the worker
// (opaque-worker.mjs) and the in-thread executor, so both run exactly the same code.
//
// Inputs and outputs are bytes (Uint8Array) and strings only, so they cross a thread boundary
// unchanged. Inputs are expected to have passed opaque-messages.ts already; anything the library
// still refuses is reported as an OpaqueInputError naming the field.
import { KE1, RegistrationRecord, RegistrationRequest } from "@cloudflare/opaque-ts";
import { getNativeOpaqueConfig, NativeOpaqueServer } from "./native-opaque-server.mjs";

/** The client sent bytes that are not the OPAQUE message `field` should hold. */
export class OpaqueInputError extends Error {
  /** @param {string} field */
  constructor(field) {
    super(`${field} is not a valid OPAQUE message`);
    this.name = "OpaqueInputError";
    this.field = field;
  }
}

/** True for the errors opaque-ts throws or returns when given malformed elements. */
function isMalformedInput(error) {
  return error instanceof Error && /curve|point|expected|length|size|invalid/i.test(error.message);
}

/**
 * @param {{ oprfSeed: Uint8Array, akePrivateKey: Uint8Array, akePublicKey: Uint8Array, serverIdentity: string }} keys
 */
export function createOpaqueOperations(keys) {
  const cfg = getNativeOpaqueConfig();
  const server = new NativeOpaqueServer(
    cfg,
    Array.from(keys.oprfSeed),
    { private_key: Array.from(keys.akePrivateKey), public_key: Array.from(keys.akePublicKey) },
    keys.serverIdentity,
  );

  // Library calls RETURN Error objects for protocol failures and THROW on malformed input.
  async function call(field, run) {
    let result;
    try {
      result = await run();
    } catch (error) {
      if (isMalformedInput(error)) throw new OpaqueInputError(field);
      throw error;
    }
    if (result instanceof Error) {
      if (isMalformedInput(result)) throw new OpaqueInputError(field);
      throw new Error(`OPAQUE operation failed: ${result.message}`);
    }
    return result;
  }

  function deserialize(field, type, bytes) {
    try {
      return type.deserialize(cfg, Array.from(bytes));
    } catch {
      throw new OpaqueInputError(field);
    }
  }

  return {
    /**
     * @param {string} username normalized: the credential identifier
     * @param {Uint8Array} request serialized RegistrationRequest
     * @returns {Promise<Uint8Array>} serialized RegistrationResponse
     */
    async registerInit(username, request) {
      const parsed = deserialize("registration_request", RegistrationRequest, request);
      const response = await call("registration_request", () => server.registerInit(parsed, username));
      return Uint8Array.from(response.serialize());
    },

    /**
     * @param {string} username normalized: credential identifier and client identity
     * @param {Uint8Array} ke1 serialized KE1
     * @param {Uint8Array} record serialized RegistrationRecord (real or fake)
     * @returns {Promise<{ ke2: Uint8Array, expected: Uint8Array }>}
     */
    async authInit(username, ke1, record) {
      const parsedKe1 = deserialize("ke1", KE1, ke1);
      // The record comes from our database or the fake-record derivation, never from the client.
      const parsedRecord = RegistrationRecord.deserialize(cfg, Array.from(record));
      const { ke2, expected } = await call("ke1", () => server.authInit(parsedKe1, parsedRecord, username, username));
      return { ke2: Uint8Array.from(ke2.serialize()), expected: Uint8Array.from(expected.serialize()) };
    },
  };
}
