// opaque-ts's hash, MAC and KDF (SHA-256, HMAC-SHA256, HKDF-SHA256) on node:crypto's synchronous
// one-shot functions instead of WebCrypto. Same algorithms, so the same bytes (the draft-07 vectors
// test pins it); WebCrypto's per-call cost (a CryptoKey per HMAC key, algorithm normalization, a
// hop to libuv's thread pool and back) was a large share of a LoginInit's CPU (figures in
// docs/architecture.md). The classes extend the library's so everything else about them (names,
// output sizes) stays the library's.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Hash, Hkdf, Hmac } from "@cloudflare/opaque-ts/lib/src/thecrypto.js";

/** "SHA-256" (WebCrypto's name, as the library keeps it) → "sha256" (OpenSSL's). */
const opensslName = (webCryptoName) => webCryptoName.replace("-", "").toLowerCase();

/** WebCrypto refuses an empty HMAC key (OPAQUE never uses one); so do these, to fail alike. */
function checkKey(key) {
  if (key.length === 0) throw new Error("Zero-length key is not supported");
  return key;
}

function hmac(algorithm, key, message) {
  return new Uint8Array(createHmac(algorithm, checkKey(key)).update(message).digest());
}

export class NodeHash extends Hash {
  async sum(message) {
    return new Uint8Array(createHash(opensslName(this.name)).update(message).digest());
  }
}

/** A keyed MAC, as Hmac.with_key returns it. */
class NodeMacOps {
  constructor(algorithm, key) {
    this.algorithm = algorithm;
    this.key = Uint8Array.from(checkKey(key));
  }

  async sign(message) {
    return hmac(this.algorithm, this.key, message);
  }

  /** Constant-time, as the library's ctEqual. */
  async verify(message, output) {
    const expected = hmac(this.algorithm, this.key, message);
    return output.length === expected.length && timingSafeEqual(Uint8Array.from(output), expected);
  }
}

export class NodeHmac extends Hmac {
  async with_key(key) {
    return new NodeMacOps(opensslName(this.hash), key);
  }
}

/** HKDF (RFC 5869) with extract and expand separate, as the library calls them. */
export class NodeHkdf extends Hkdf {
  async extract(salt, ikm) {
    return hmac(opensslName(this.hash), salt, ikm);
  }

  async expand(prk, info, lenBytes) {
    const algorithm = opensslName(this.hash);
    const blockLength = this.Nx;
    const blocks = Math.ceil(lenBytes / blockLength);
    // RFC 5869: at most 255 blocks (the counter is one byte).
    if (blocks > 255) throw new Error(`HKDF-Expand cannot make ${lenBytes} bytes`);
    const output = new Uint8Array(blocks * blockLength);
    let previous = new Uint8Array(0);
    for (let i = 0; i < blocks; i++) {
      previous = new Uint8Array(createHmac(algorithm, checkKey(prk)).update(previous).update(info).update(Uint8Array.of(i + 1)).digest());
      output.set(previous, i * blockLength);
    }
    return output.slice(0, lenBytes);
  }
}
