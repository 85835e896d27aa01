import { Hash, Hkdf, Hmac } from "@cloudflare/opaque-ts/lib/src/thecrypto.js";

export declare class NodeHash extends Hash {}
export declare class NodeHmac extends Hmac {}
export declare class NodeHkdf extends Hkdf {}
