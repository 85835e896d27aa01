/**
 * fast-check generators for malformed (and a few well-formed) Cypher requests: random and
 * wrong-length bytes, 33-byte strings that look like compressed points but are not on P-256, real
 * points (so some inputs pass validation and reach OPAQUE), hostile strings, garbage tokens.
 */
import { createECDH } from "node:crypto";
import fc from "fast-check";

/** A compressed P-256 point that is on the curve. */
export function validPoint(): Uint8Array {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return new Uint8Array(ecdh.getPublicKey(undefined, "compressed"));
}

const POINTS: Uint8Array[] = Array.from({ length: 16 }, validPoint);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Small x coordinates with no point on P-256. */
export const NON_POINT_X = [1, 2, 3, 4, 7] as const;

/** 33 bytes with a 0x02/0x03 prefix that are not a point: x >= p, or an x with no square root. */
const nonPoint: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(0x02, 0x03).map((prefix) => concat(new Uint8Array([prefix]), new Uint8Array(32).fill(0xff))),
  // x = 1, 2, 3, 4, 7 have no y on P-256 (x^3 - 3x + b is not a square); the test checks it.
  fc.tuple(fc.constantFrom(0x02, 0x03), fc.constantFrom(...NON_POINT_X)).map(([prefix, x]) => {
    const b = new Uint8Array(33);
    b[0] = prefix;
    b[32] = x;
    return b;
  }),
  // Uncompressed / infinity prefixes.
  fc.constantFrom(0x00, 0x04, 0x06, 0x07, 0xff).chain((prefix) =>
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map((rest) => concat(new Uint8Array([prefix]), rest)),
  ),
);

const point: fc.Arbitrary<Uint8Array> = fc.constantFrom(...POINTS);
const element: fc.Arbitrary<Uint8Array> = fc.oneof({ weight: 3, arbitrary: nonPoint }, { weight: 1, arbitrary: point });
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Bytes of exactly `length`, of `length ± 1`, empty, random, or huge. */
function aroundLength(length: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ minLength: length, maxLength: length }),
    fc.uint8Array({ minLength: length - 1, maxLength: length - 1 }),
    fc.uint8Array({ minLength: length + 1, maxLength: length + 1 }),
    fc.constant(new Uint8Array(0)),
    fc.uint8Array({ maxLength: 300 }),
    fc.integer({ min: 1_000, max: 70_000 }).map((n) => new Uint8Array(n).fill(0x02)),
  );
}

/** registration_request: 33 bytes = blinded element. */
export const registrationRequestBytes = fc.oneof({ weight: 3, arbitrary: aroundLength(33) }, { weight: 3, arbitrary: element });

/** registration_record: 129 bytes = client public key ‖ masking key ‖ envelope. */
export const registrationRecordBytes = fc.oneof(
  { weight: 3, arbitrary: aroundLength(129) },
  { weight: 3, arbitrary: fc.tuple(element, fc.uint8Array({ minLength: 96, maxLength: 96 })).map(([e, rest]) => concat(e, rest)) },
);

/** ke1: 98 bytes = blinded element ‖ nonce ‖ client key share; a valid one is rare (it costs a full OPAQUE LoginInit). */
export const ke1Bytes = fc.oneof(
  { weight: 6, arbitrary: aroundLength(98) },
  { weight: 6, arbitrary: fc.tuple(nonPoint, bytes32, element).map(([a, n, b]) => concat(a, n, b)) },
  { weight: 6, arbitrary: fc.tuple(point, bytes32, nonPoint).map(([a, n, b]) => concat(a, n, b)) },
  { weight: 1, arbitrary: fc.tuple(point, bytes32, point).map(([a, n, b]) => concat(a, n, b)) },
);

/** ke3: 32 bytes = client MAC. */
export const ke3Bytes = aroundLength(32);

/** Strings meant to break things: empty, control characters, lone surrogates, huge, near-valid. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\ud800",
    "ab",
    "a".repeat(65),
    "ＡＤＭＩＮ",
    "admin\u200b",
    "' or 1=1 --",
    "'; drop table users; --",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "%00",
    "<script>alert(1)</script>",
    "\u202etxt.exe",
  ),
  fc.integer({ min: 1_000, max: 70_000 }).map((n) => "x".repeat(n)),
);

/** Usernames: mostly hostile, some valid (distinct each time so some reach OPAQUE). */
export const usernameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9._@-]{3,20}$/) },
);

const base64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** Things that look like (or not at all like) PASETO tokens, enrollment tokens, login ids. */
export const tokenArb: fc.Arbitrary<string> = fc.oneof(
  hostileString,
  fc.uint8Array({ minLength: 0, maxLength: 200 }).map((b) => `v4.public.${base64url(b)}`),
  fc
    .tuple(fc.uint8Array({ minLength: 64, maxLength: 200 }), fc.jsonValue({ maxDepth: 2 }))
    .map(([b, footer]) => `v4.public.${base64url(b)}.${base64url(Buffer.from(JSON.stringify(footer)))}`),
  fc
    .tuple(fc.uint8Array({ minLength: 64, maxLength: 120 }), fc.string({ maxLength: 60 }))
    .map(([b, kid]) => `v4.public.${base64url(b)}.${base64url(Buffer.from(JSON.stringify({ kid })))}`),
  fc.constantFrom("v4.local.AAAA", "v3.public.AAAA", "v4.public.", "v4.public..", "k4.public.AAAA"),
  fc.uuid(),
  fc.uint8Array({ minLength: 16, maxLength: 48 }).map(base64url),
);

/** Six-ish digit codes, recovery-code look-alikes and junk. */
export const codeArb: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[0-9]{6}$/),
  fc.stringMatching(/^[0-9]{0,12}$/),
  fc.stringMatching(/^[a-z0-9]{4,5}-[a-z0-9]{4,5}$/),
  hostileString,
);

/** Values for an authorization header (printable ASCII: anything else a client cannot send). */
export const authorizationArb: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 120 }),
  tokenArb.filter((t) => /^[\x20-\x7e]*$/.test(t) && t.length < 8000).map((t) => `Bearer ${t}`),
  fc.constantFrom("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer v4.public.AAAA", "Bearer a b"),
);
