/**
 * Usernames as the server sees them. The normalized form is also the OPAQUE credential identifier
 * and client identity, so the browser must produce exactly the server's string: the steps and the
 * rules are the server's own (server/auth/username.ts and username-scripts.ts, pure code bundled in
 * as is); this file only words them for people.
 */
import { foldUsername, USERNAME_MAX_CHARS, USERNAME_MIN_CHARS, usernameRuleBroken } from "../../../server/auth/username.js";
import { isMixedScript } from "../../../server/auth/username-scripts.js";

export const USERNAME_MIN_LENGTH = USERNAME_MIN_CHARS;
export const USERNAME_MAX_LENGTH = USERNAME_MAX_CHARS;

/** The server's normalization; surrounding spaces are dropped first, on registration and login alike, since nobody means them. */
export function normalizeUsername(input: string): string {
  return foldUsername(input.trim());
}

/** What is wrong with a (normalized) username, as a sentence, or null when it is acceptable. */
export function usernameProblem(normalized: string): string | null {
  switch (usernameRuleBroken(normalized)) {
    case null:
      return null;
    case "too-short":
      return `Your username needs at least ${USERNAME_MIN_LENGTH} characters.`;
    case "too-long":
      return `Your username can have at most ${USERNAME_MAX_LENGTH} characters.`;
    case "characters":
      return "Use only letters, digits, dots, dashes, underscores and @ in your username.";
  }
}

/**
 * For a new account: also refuses names that mix writing systems, with the server's own rule. Login
 * does not check this, so a name registered before the rule still logs in.
 */
export function newUsernameProblem(normalized: string): string | null {
  const problem = usernameProblem(normalized);
  if (problem !== null) return problem;
  if (isMixedScript(normalized)) return "Use letters of one writing system in your username (not, say, Latin mixed with Cyrillic).";
  return null;
}
