/**
 * PASERK key identifiers for k4 keys (paserk spec, operations/ID.md, versions 2 and 4):
 *   h = "k4.pid."; d = BLAKE2b-264(h ‖ paserk); id = h ‖ base64url(d)
 * paseto 4.x does not build k4 ids in (BLAKE2b is not in WebCrypto), so they are computed here.
 * Every token's footer carries the id of the key that signed it; GetPublicKeys publishes the same id.
 */
import { blake2b } from "@noble/hashes/blake2.js";

const PUBLIC_ID_PREFIX = "k4.pid.";
/** BLAKE2b output length for k2/k4 ids: 264 bits. */
const ID_DIGEST_BYTES = 33;

/** The `k4.pid.` of a `k4.public.` PASERK string. */
export function publicKeyId(publicPaserk: string): string {
  if (!publicPaserk.startsWith("k4.public.")) throw new TypeError("not a k4.public PASERK");
  const digest = blake2b(new TextEncoder().encode(PUBLIC_ID_PREFIX + publicPaserk), { dkLen: ID_DIGEST_BYTES });
  return PUBLIC_ID_PREFIX + Buffer.from(digest).toString("base64url");
}
