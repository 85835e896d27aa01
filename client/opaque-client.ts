/**
 * The client's half of OPAQUE (suite P-256, @cloudflare/opaque-ts), as steps that take and give
 * bytes. The steps are an interface so a caller can run them elsewhere (the login bench runs them
 * on a worker thread) while the RPC sequence stays the driver's.
 */
import { getOpaqueConfig, KE2, OpaqueClient, OpaqueID, RegistrationResponse, type Config, type MemoryHardFn } from "@cloudflare/opaque-ts";
import { foldUsername } from "../server/auth/username.js";

/** Which client step failed: starting it, reading the server's answer, or finishing it. */
export type OpaqueStep = "start" | "read-answer" | "finish";

/**
 * A client-side OPAQUE failure. At login, "finish" is what a wrong password (or an unknown
 * account's fake record) looks like: the envelope does not open. `cause` is opaque-ts's own error.
 */
export class OpaqueClientError extends Error {
  override readonly name = "OpaqueClientError";
  constructor(
    readonly step: OpaqueStep,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RegistrationInProgress {
  /** RegisterInit's registration_request. */
  request: Uint8Array;
  /** Turns RegisterInit's answer into RegisterFinish's registration_record. */
  finish(response: Uint8Array, serverIdentity: string, clientIdentity: string): Promise<Uint8Array>;
}

export interface LoginInProgress {
  /** LoginInit's ke1. */
  ke1: Uint8Array;
  /** Turns LoginInit's ke2 into LoginFinish's ke3; throws OpaqueClientError("finish") for a wrong password. */
  finish(ke2: Uint8Array, serverIdentity: string, clientIdentity: string): Promise<Uint8Array>;
}

export interface OpaqueClientSteps {
  startRegistration(password: string): Promise<RegistrationInProgress>;
  startLogin(password: string): Promise<LoginInProgress>;
}

let config: Config | undefined;

/** Built on first use: it does some curve set-up a page should not pay for before it needs it. */
function opaqueConfig(): Config {
  config ??= getOpaqueConfig(OpaqueID.OPAQUE_P256);
  return config;
}

/**
 * The steps on this thread. `memHard` is the client's key stretching (opaque-ts's scrypt by
 * default); it costs only the client, so load and test scripts may pass IdentityMemHardFn, but an
 * account must always log in with the stretching it registered with.
 */
export function inProcessOpaque(memHard?: MemoryHardFn): OpaqueClientSteps {
  return {
    async startRegistration(password) {
      const cfg = opaqueConfig();
      const client = new OpaqueClient(cfg, memHard);
      const request = unwrap(await client.registerInit(password), "start", "could not start OPAQUE registration");
      return {
        request: Uint8Array.from(request.serialize()),
        async finish(response, serverIdentity, clientIdentity) {
          const parsed = readAnswer(() => RegistrationResponse.deserialize(cfg, Array.from(response)));
          const { record } = unwrap(await client.registerFinish(parsed, serverIdentity, clientIdentity), "finish", "the server's registration answer did not check out");
          return Uint8Array.from(record.serialize());
        },
      };
    },
    async startLogin(password) {
      const cfg = opaqueConfig();
      const client = new OpaqueClient(cfg, memHard);
      const ke1 = unwrap(await client.authInit(password), "start", "could not start OPAQUE login");
      return {
        ke1: Uint8Array.from(ke1.serialize()),
        async finish(ke2, serverIdentity, clientIdentity) {
          const parsed = readAnswer(() => KE2.deserialize(cfg, Array.from(ke2)));
          const { ke3 } = unwrap(await client.authFinish(parsed, serverIdentity, clientIdentity), "finish", "the login could not be completed");
          return Uint8Array.from(ke3.serialize());
        },
      };
    },
  };
}

/**
 * The OPAQUE client identity for a username: the server's normalized form, exactly (the server
 * passes that string to OPAQUE; any other form derives other keys and no password matches). A name
 * that breaks the rules is returned folded: the server refuses it before the identity matters.
 */
export function opaqueIdentity(username: string): string {
  return foldUsername(username);
}

/** opaque-ts reports failures by returning an Error; this turns that into a value or a throw. */
function unwrap<T>(result: T | Error, step: OpaqueStep, message: string): T {
  if (result instanceof Error) throw new OpaqueClientError(step, message, { cause: result });
  return result;
}

/** Deserializing server bytes can throw on garbage: a protocol failure, not a crash. */
function readAnswer<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new OpaqueClientError("read-answer", "the server's answer is not an OPAQUE message", { cause: err });
  }
}
