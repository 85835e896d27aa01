/**
 * TOTP as Cypher uses it (RFC 6238): SHA-1, 6 digits, 30-second steps, ±1 step of clock drift, and
 * each step accepted at most once per account (§5.2): callers persist `step` and pass it back as
 * `lastUsedStep`, and must record it with a compare-and-set so two concurrent uses cannot both win.
 */
import { generate, generateSecret, generateURI, verify } from "otplib";

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** 20 random bytes (160 bits), as RFC 4226 recommends. */
export const TOTP_SECRET_BYTES = 20;

/** A fresh base32 secret. */
export function newTotpSecret(): string {
  return generateSecret({ length: TOTP_SECRET_BYTES });
}

/** The otpauth:// URI an authenticator app scans. */
export function totpUri(params: { issuer: string; username: string; secret: string }): string {
  return generateURI({ issuer: params.issuer, label: params.username, secret: params.secret });
}

/** Whether `code` has the shape of a TOTP code (so malformed input never reaches otplib, which throws). */
export function isWellFormedTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code);
}

export type TotpCheck = { valid: true; step: number } | { valid: false };

/**
 * Checks `code` against `secret` at time `at`, accepting the previous, current and next step, and
 * refusing any step at or before `lastUsedStep`.
 */
export async function checkTotpCode(params: {
  secret: string;
  code: string;
  at: Date;
  lastUsedStep: number | null;
}): Promise<TotpCheck> {
  if (!isWellFormedTotpCode(params.code)) return { valid: false };
  const result = await verify({
    secret: params.secret,
    token: params.code,
    epoch: Math.floor(params.at.getTime() / 1000),
    epochTolerance: TOTP_PERIOD_SECONDS,
    ...(params.lastUsedStep !== null ? { afterTimeStep: params.lastUsedStep } : {}),
  });
  // The functional API's result type is a union with HOTP's; a TOTP verification carries timeStep.
  if (!result.valid || !("timeStep" in result)) return { valid: false };
  return { valid: true, step: result.timeStep };
}

/** The code for `secret` at time `at` (for tests and the demo client; the server never needs it). */
export async function totpCodeAt(secret: string, at: Date): Promise<string> {
  return generate({ secret, epoch: Math.floor(at.getTime() / 1000) });
}
