/**
 * The one OPAQUE configuration Cypher uses (suite P-256, the library's default scrypt stretching),
 * created on first use because building it does some curve set-up.
 */
import { getOpaqueConfig, OpaqueID, type Config } from "@cloudflare/opaque-ts";
import { FlowError } from "./flow-error.js";

let config: Config | undefined;

export function opaqueConfig(): Config {
  config ??= getOpaqueConfig(OpaqueID.OPAQUE_P256);
  return config;
}

/** opaque-ts reports failures by returning an Error; this turns that into a value or a throw. */
export function unwrap<T>(result: T | Error, onError: (err: Error) => FlowError): T {
  if (result instanceof Error) throw onError(result);
  return result;
}

/** Deserializing server bytes can throw on garbage; a broken answer is a protocol error, not a crash. */
export function parseServerMessage<T>(parse: () => T): T {
  try {
    return parse();
  } catch {
    throw new FlowError("protocol", "The server sent an answer this app cannot read.");
  }
}
