/**
 * Checks on the OPAQUE messages a client sends, before any of them reaches the OPAQUE arithmetic
 * (worker threads, native-opaque-server.mjs). opaque-ts checks lengths when deserializing but only discovers
 * that a point is not on the curve deep inside an operation, by throwing; here both are checked up
 * front, natively, so bad bytes cost microseconds and always answer InvalidArgument (and never reach
 * the library's slow pure-JavaScript path, which the native server keeps only as a fallback).
 *
 * Layouts (suite P-256, opaque-ts 0.7.5, draft-07 wire format; elements are compressed SEC1
 * points of 33 bytes, so the point at infinity cannot even be encoded):
 *   RegistrationRequest 33  = blinded element
 *   RegistrationRecord  129 = client public key (33) ‖ masking key (32) ‖ envelope (nonce 32 ‖ tag 32)
 *   KE1                 98  = blinded element (33) ‖ client nonce (32) ‖ client key share (33)
 *   KE3                 32  = client MAC
 *   KE2                 259 (sent, never received)
 */
import { ECDH } from "node:crypto";
import { invalidArgument } from "../../errors.js";

export const OPAQUE_SIZES = {
  element: 33,
  registrationRequest: 33,
  registrationResponse: 66,
  registrationRecord: 129,
  ke1: 98,
  ke2: 259,
  ke3: 32,
  /** ExpectedAuthResult: expected client MAC (32) ‖ session key (32). */
  expectedAuthResult: 64,
} as const;

/** Whether `bytes` is a compressed SEC1 encoding of a point on P-256 (OpenSSL does the check). */
export function isP256Point(bytes: Uint8Array): boolean {
  if (bytes.length !== OPAQUE_SIZES.element || (bytes[0] !== 0x02 && bytes[0] !== 0x03)) return false;
  try {
    ECDH.convertKey(bytes, "prime256v1", undefined, undefined, "uncompressed");
    return true;
  } catch {
    return false;
  }
}

function requireLength(field: string, bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length === 0) throw invalidArgument({ field, description: `required (${what}, ${length} bytes)` });
  if (bytes.length !== length) {
    throw invalidArgument({ field, description: `must be a serialized ${what} of ${length} bytes (got ${bytes.length})` });
  }
}

function requirePoint(field: string, bytes: Uint8Array, what: string): void {
  if (!isP256Point(bytes)) throw invalidArgument({ field, description: `${what} is not a point on P-256` });
}

export function checkRegistrationRequest(bytes: Uint8Array, field = "registration_request"): void {
  requireLength(field, bytes, OPAQUE_SIZES.registrationRequest, "OPAQUE RegistrationRequest");
  requirePoint(field, bytes, "the blinded element");
}

export function checkRegistrationRecord(bytes: Uint8Array, field = "registration_record"): void {
  requireLength(field, bytes, OPAQUE_SIZES.registrationRecord, "OPAQUE RegistrationRecord");
  requirePoint(field, bytes.subarray(0, OPAQUE_SIZES.element), "the client public key");
}

export function checkKe1(bytes: Uint8Array, field = "ke1"): void {
  requireLength(field, bytes, OPAQUE_SIZES.ke1, "OPAQUE KE1");
  requirePoint(field, bytes.subarray(0, OPAQUE_SIZES.element), "the blinded element");
  requirePoint(field, bytes.subarray(OPAQUE_SIZES.ke1 - OPAQUE_SIZES.element), "the client key share");
}

export function checkKe3(bytes: Uint8Array, field = "ke3"): void {
  requireLength(field, bytes, OPAQUE_SIZES.ke3, "OPAQUE KE3");
}
