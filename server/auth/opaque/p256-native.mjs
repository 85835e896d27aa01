// P-256 scalar multiplication on OpenSSL (node:crypto), with compressed SEC1 points in and out:
// the arithmetic OPAQUE's server needs, at native speed.
//
// node:crypto has no "multiply a point" call. It has ECDH: `setPrivateKey(k)` then
// `getPublicKey()` gives k·G in full, and `computeSecret(P)` gives only the x-coordinate of k·P.
// A compressed k·P also needs the parity of its y. That y follows from two ECDHs with the same
// scalar and a little field arithmetic on results, no square root:
//   Q = k·P (x known), R = k·G (known), S = Q + R = k·(P + G) (x known, from ECDH on P + G).
//   Adding Q and R: (yQ − yR)² = (xS + xQ + xR)·(xQ − xR)²; and yQ² = xQ³ − 3·xQ + b, so
//   yQ = (xQ³ − 3·xQ + b + yR² − (xS + xQ + xR)·(xQ − xR)²) / (2·yR).
// The scalar k only ever goes to OpenSSL. JavaScript BigInt handles field elements: the public
// point P and P + G, and the ECDH outputs xQ, xS and k·G (see SECURITY.md for what is secret).
//
// Every function returns null when this route cannot answer (a scalar OpenSSL refuses: 0 or ≥ n;
// bytes that are not a canonical point on the curve); callers then use the library's own code,
// which gives the library's own answer or error. A result is never a guess: each recovered y is
// checked against the curve equation, and a failed check also returns null.
import { createECDH, ECDH } from "node:crypto";

const CURVE = "prime256v1";
/** Field prime, order, curve constant b and base point of P-256 (SEC 2 / FIPS 186-4). */
export const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
export const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

const mod = (a) => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

/** a⁻¹ mod p for 0 < a < p (extended Euclid; only ever called on non-zero field elements). */
function invert(a) {
  let r0 = a;
  let r1 = P;
  let s0 = 1n;
  let s1 = 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    const r2 = r0 - q * r1;
    r0 = r1;
    r1 = r2;
    const s2 = s0 - q * s1;
    s0 = s1;
    s1 = s2;
  }
  return s0 < 0n ? s0 + P : s0;
}

/** Right side of the curve equation y² = x³ − 3x + b. */
const curveRhs = (x) => mod(x * x * x - 3n * x + B);

function toBigInt(bytes) {
  return BigInt("0x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex"));
}

function fieldBytes(value) {
  return Buffer.from(value.toString(16).padStart(64, "0"), "hex");
}

function uncompressed(x, y) {
  return Buffer.concat([Buffer.from([0x04]), fieldBytes(x), fieldBytes(y)]);
}

/** Compressed SEC1 encoding from a 32-byte x and the parity of y. */
function compressed(xBytes, yIsOdd) {
  const out = new Uint8Array(33);
  out[0] = yIsOdd ? 0x03 : 0x02;
  out.set(xBytes, 1);
  return out;
}

/**
 * A public point, decoded once and usable with several scalars. `decode` returns null for bytes
 * OpenSSL does not accept as a compressed P-256 point (wrong length or prefix, x ≥ p, x not on
 * the curve).
 */
export class PublicPoint {
  /** @param {Uint8Array} bytes */
  static decode(bytes) {
    if (bytes.length !== 33 || (bytes[0] !== 0x02 && bytes[0] !== 0x03)) return null;
    let full;
    try {
      full = ECDH.convertKey(bytes, CURVE, undefined, undefined, "uncompressed");
    } catch {
      return null;
    }
    return new PublicPoint(full);
  }

  /** @param {Buffer} full uncompressed encoding */
  constructor(full) {
    this.uncompressed = full;
    this.x = toBigInt(full.subarray(1, 33));
    this.y = toBigInt(full.subarray(33, 65));
    /** @type {Buffer | null | undefined} uncompressed P + G; null when P = ±G */
    this.plusGCache = undefined;
  }

  /** P + G (affine, uncompressed), or null when P = ±G (then k·P is ±k·G, no addition needed). */
  plusG() {
    if (this.plusGCache !== undefined) return this.plusGCache;
    if (this.x === GX) return (this.plusGCache = null);
    const lambda = mod((this.y - GY) * invert(mod(this.x - GX)));
    const x3 = mod(lambda * lambda - this.x - GX);
    const y3 = mod(lambda * (this.x - x3) - this.y);
    return (this.plusGCache = uncompressed(x3, y3));
  }
}

/**
 * A secret scalar k held by OpenSSL (an ECDH object), with R = k·G. `load` returns null for a
 * scalar OpenSSL refuses: 0 or ≥ n.
 */
export class SecretScalar {
  /** @param {Uint8Array} bytes 32 bytes, big-endian */
  static load(bytes) {
    if (bytes.length !== 32) return null;
    const ecdh = createECDH(CURVE);
    try {
      ecdh.setPrivateKey(bytes);
    } catch {
      return null;
    }
    return new SecretScalar(ecdh);
  }

  /** A fresh random scalar from OpenSSL (uniform in [1, n − 1]). */
  static generate() {
    const ecdh = createECDH(CURVE);
    ecdh.generateKeys();
    return new SecretScalar(ecdh);
  }

  constructor(ecdh) {
    this.ecdh = ecdh;
    const full = ecdh.getPublicKey();
    this.rBytes = full;
    this.rx = toBigInt(full.subarray(1, 33));
    this.ry = toBigInt(full.subarray(33, 65));
    /** @type {bigint | undefined} 1 / (2·yR), shared by every product with this scalar */
    this.halfInvYR = undefined;
  }

  /** k as 32 bytes, big-endian (OpenSSL leaves out leading zero bytes: about one key in 256). */
  privateKey() {
    const bytes = this.ecdh.getPrivateKey();
    if (bytes.length === 32) return bytes;
    const padded = Buffer.alloc(32);
    bytes.copy(padded, 32 - bytes.length);
    return padded;
  }

  /** k·G, compressed. */
  publicKey() {
    return compressed(this.rBytes.subarray(1, 33), (this.rBytes[64] & 1) === 1);
  }

  /**
   * k·P, compressed, or null if the recovery's check fails (never expected; the caller then
   * falls back to the library).
   * @param {PublicPoint} point
   */
  multiply(point) {
    const plusG = point.plusG();
    if (plusG === null) {
      // P = G gives k·G; P = −G gives −k·G.
      const yIsOdd = (this.rBytes[64] & 1) === 1;
      return compressed(this.rBytes.subarray(1, 33), point.y === GY ? yIsOdd : !yIsOdd);
    }
    let xqBytes;
    let xs;
    try {
      xqBytes = this.ecdh.computeSecret(point.uncompressed);
      xs = toBigInt(this.ecdh.computeSecret(plusG));
    } catch {
      return null;
    }
    const xq = toBigInt(xqBytes);
    // xQ = xR would mean P = ±G, handled above.
    if (xq === this.rx) return null;
    if (this.halfInvYR === undefined) this.halfInvYR = invert(mod(2n * this.ry));
    const rhs = curveRhs(xq);
    const dx = xq - this.rx;
    const yq = mod((rhs + this.ry * this.ry - (xs + xq + this.rx) * dx * dx) % P * this.halfInvYR);
    if (mod(yq * yq) !== rhs) return null;
    return compressed(xqBytes, (yq & 1n) === 1n);
  }
}
