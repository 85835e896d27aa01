/**
 * Usernames as Cypher stores and compares them. The normalized form is the account's key, the
 * OPAQUE credential identifier and the client identity, so it must be stable: a different form at
 * login than at registration would derive a different OPRF key and the password would never work.
 *
 * Rules (decided here, documented in the proto):
 *  - NFKC, then lower-case (locale-independent `toLowerCase`), then NFKC again (lower-casing can
 *    leave a non-normalized sequence, e.g. "İ" becomes "i" + U+0307);
 *  - 3–64 code points, each a Unicode letter (\p{L}), a decimal digit (\p{Nd}, which NFKC has
 *    already folded from full-width forms), or one of `.` `_` `-` `@`;
 *  - combining marks (\p{M}) only directly after a letter or digit, so scripts that need them
 *    (Devanagari, Thai, …) work while a name cannot start with, or consist of, floating marks.
 * Everything else (spaces, controls, symbols, emoji, zero-width characters) is refused, never
 * silently dropped: two visibly different inputs must not become one account.
 */
import { invalidArgument } from "../errors.js";
import { isMixedScript } from "./username-scripts.js";

export const USERNAME_MIN_CHARS = 3;
export const USERNAME_MAX_CHARS = 64;
/** Raw input beyond this is refused before normalizing (NFKC of huge strings is wasted work). */
const RAW_MAX_CODE_UNITS = 1024;

const USERNAME_PATTERN = /^(?:[\p{L}\p{Nd}]\p{M}*|[._@-])+$/u;

export const USERNAME_RULE = `must be ${USERNAME_MIN_CHARS}-${USERNAME_MAX_CHARS} letters, digits, '.', '_', '-' or '@'`;

/**
 * The normalization steps alone (no rule checked). Pure code with no server dependency: the client
 * driver (client/) and the web app apply exactly these, since the result is the OPAQUE identity.
 */
export function foldUsername(raw: string): string {
  return raw.normalize("NFKC").toLowerCase().normalize("NFKC");
}

/** Which rule a normalized username breaks, or null when it keeps them all. */
export type UsernameRuleBroken = "too-short" | "too-long" | "characters";

export function usernameRuleBroken(normalized: string): UsernameRuleBroken | null {
  const length = [...normalized].length;
  if (length < USERNAME_MIN_CHARS) return "too-short";
  if (length > USERNAME_MAX_CHARS) return "too-long";
  return USERNAME_PATTERN.test(normalized) ? null : "characters";
}

/**
 * The start of a username, folded as usernames are (for an operator's listing by prefix): "" for
 * none; null unless it could begin a valid username (the allowed characters, at most the maximum
 * length).
 */
export function tryNormalizeUsernamePrefix(raw: string): string | null {
  if (raw === "") return "";
  if (raw.length > RAW_MAX_CODE_UNITS) return null;
  const folded = foldUsername(raw);
  return [...folded].length <= USERNAME_MAX_CHARS && USERNAME_PATTERN.test(folded) ? folded : null;
}

/** The normalized username, or null when `raw` breaks the rules. */
export function tryNormalizeUsername(raw: string): string | null {
  if (raw.length > RAW_MAX_CODE_UNITS) return null;
  const normalized = foldUsername(raw);
  return usernameRuleBroken(normalized) === null ? normalized : null;
}

/** The normalized username; throws InvalidArgument (field `field`) when `raw` breaks the rules. */
export function normalizeUsername(raw: string, field = "username"): string {
  const normalized = tryNormalizeUsername(raw);
  if (normalized === null) throw invalidArgument({ field, description: USERNAME_RULE });
  return normalized;
}

export const USERNAME_SCRIPT_RULE = "must not mix writing systems (e.g. Latin with Cyrillic letters)";

/**
 * For registration only: the normalized username, refused (InvalidArgument) also when it mixes
 * scripts (username-scripts.ts). Login keeps `normalizeUsername`, so no existing name is shut out.
 */
export function normalizeNewUsername(raw: string, field = "username"): string {
  const normalized = normalizeUsername(raw, field);
  if (isMixedScript(normalized)) throw invalidArgument({ field, description: USERNAME_SCRIPT_RULE });
  return normalized;
}
