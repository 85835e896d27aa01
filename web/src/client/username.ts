/**
 * Usernames as the server sees them. The normalized form is also the OPAQUE credential identifier
 * and client identity, so the browser must produce exactly the server's string: a different case or
 * Unicode form would derive a different OPRF key and no password would ever match.
 */

import { isMixedScript } from "../../../server/auth/username-scripts.js";

export const USERNAME_MIN_LENGTH = 3;
export const USERNAME_MAX_LENGTH = 64;

/**
 * NFKC, lower case, NFKC again (lower-casing can leave a string that is no longer NFKC): the same
 * steps, in the same order, as the server. Surrounding spaces are dropped first, on registration
 * and login alike, since nobody means them.
 */
export function normalizeUsername(input: string): string {
  return input.trim().normalize("NFKC").toLowerCase().normalize("NFKC");
}

/** Letters (with their combining marks), decimal digits, and . _ @ - : the server's rule. */
const USERNAME_PATTERN = /^(?:[\p{L}\p{Nd}]\p{M}*|[._@-])+$/u;

/** What is wrong with a (normalized) username, as a sentence, or null when it is acceptable. */
export function usernameProblem(normalized: string): string | null {
  const length = [...normalized].length;
  if (length < USERNAME_MIN_LENGTH) return `Your username needs at least ${USERNAME_MIN_LENGTH} characters.`;
  if (length > USERNAME_MAX_LENGTH) return `Your username can have at most ${USERNAME_MAX_LENGTH} characters.`;
  if (!USERNAME_PATTERN.test(normalized)) {
    return "Use only letters, digits, dots, dashes, underscores and @ in your username.";
  }
  return null;
}

/**
 * For a new account: also refuses names that mix writing systems, with the server's own rule
 * (server/auth/username-scripts.ts, pure code bundled in as is). Login does not check this, so a
 * name registered before the rule still logs in.
 */
export function newUsernameProblem(normalized: string): string | null {
  const problem = usernameProblem(normalized);
  if (problem !== null) return problem;
  if (isMixedScript(normalized)) return "Use letters of one writing system in your username (not, say, Latin mixed with Cyrillic).";
  return null;
}
