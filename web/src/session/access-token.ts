/**
 * An access token as the session manager keeps it: in memory, with its expiry on this machine's
 * clock. Lifetimes come from the token's own `iat`/`exp` claims (PASETO v4.public payloads are
 * signed, not encrypted), so a browser clock that is off by minutes still refreshes on time.
 */

export interface AccessToken {
  value: string;
  /** exp − iat as the server set them. */
  lifetimeMs: number;
  /** When it expires, on the local clock. */
  expiresAtMs: number;
  /** When this tab (or the tab that shared it) received it, on the local clock. */
  receivedAtMs: number;
}

/** Refresh when 70–80 % of the lifetime has passed: early enough to survive a slow network. */
export const REFRESH_AT_FRACTION = 0.7;
/** Spread of the refresh moment, so tabs and devices do not all refresh in the same instant. */
export const REFRESH_JITTER_FRACTION = 0.1;
/** A token with more than half its lifetime left needs no refresh (another tab just did one). */
export const FRESH_FRACTION = 0.5;
/** Never schedule closer than this, whatever the lifetime. */
export const MIN_REFRESH_DELAY_MS = 1_000;

export function accessTokenFrom(value: string, expiresAt: Date | undefined, nowMs: number): AccessToken {
  const claimed = lifetimeFromClaims(value);
  const fallback = expiresAt ? expiresAt.getTime() - nowMs : 60_000;
  const lifetimeMs = Math.max(MIN_REFRESH_DELAY_MS, claimed ?? fallback);
  return { value, lifetimeMs, expiresAtMs: nowMs + lifetimeMs, receivedAtMs: nowMs };
}

/** exp − iat from a v4.public token's payload, or undefined if it cannot be read. */
export function lifetimeFromClaims(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length < 3 || parts[0] !== "v4" || parts[1] !== "public") return undefined;
  try {
    const raw = base64UrlDecode(parts[2]!);
    // The last 64 bytes are the Ed25519 signature; the rest is the JSON payload.
    if (raw.length <= 64) return undefined;
    const claims = JSON.parse(new TextDecoder().decode(raw.subarray(0, raw.length - 64))) as { iat?: unknown; exp?: unknown };
    if (typeof claims.iat !== "string" || typeof claims.exp !== "string") return undefined;
    const lifetime = Date.parse(claims.exp) - Date.parse(claims.iat);
    return Number.isFinite(lifetime) && lifetime > 0 ? lifetime : undefined;
  } catch {
    return undefined;
  }
}

function base64UrlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Milliseconds from now until this token should be refreshed; `random` in [0, 1) picks the jitter. */
export function refreshDelayMs(token: AccessToken, nowMs: number, random: number): number {
  const leadMs = token.lifetimeMs * (1 - REFRESH_AT_FRACTION - REFRESH_JITTER_FRACTION * random);
  return Math.max(MIN_REFRESH_DELAY_MS, token.expiresAtMs - leadMs - nowMs);
}

export function isFresh(token: AccessToken | undefined, nowMs: number): boolean {
  return token !== undefined && token.expiresAtMs - nowMs > token.lifetimeMs * FRESH_FRACTION;
}

/** Usable for a call that starts now (a small margin for the trip to the server). */
export function isUsable(token: AccessToken | undefined, nowMs: number): boolean {
  return token !== undefined && token.expiresAtMs - nowMs > Math.min(5_000, token.lifetimeMs / 10);
}
