import type { CallOptions } from "@connectrpc/connect";
import type { OpaqueClientSteps } from "./opaque-client.js";

/** What a caller may choose for one registration or login. */
export interface DriverOptions {
  /** Where the client's OPAQUE steps run; on this thread with opaque-ts's scrypt by default. */
  opaque?: OpaqueClientSteps;
  /** Passed to every RPC of the flow (headers, timeout, signal). */
  callOptions?: CallOptions;
}
