/** Types for native-opaque-server.mjs (plain JavaScript so that worker threads load it unchanged). */
import type { Config, OpaqueServer } from "@cloudflare/opaque-ts";

export declare const PINNED_VERSIONS: Readonly<Record<"@cloudflare/opaque-ts" | "@cloudflare/voprf-ts", string>>;
export declare function checkLibraryVersions(): void;
/** opaque-ts's P-256 configuration with the OPRF evaluation and the AKE key pairs on OpenSSL. */
export declare function getNativeOpaqueConfig(): Config;
/** opaque-ts's OpaqueServer with the 3DH products on OpenSSL; give it a config from getNativeOpaqueConfig. */
export declare class NativeOpaqueServer extends OpaqueServer {}
