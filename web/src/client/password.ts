/**
 * The password never leaves the browser, so the server cannot check it: these rules live here.
 * NIST SP 800-63B asks for at least 8 characters when a second factor is present (TOTP is mandatory
 * in Cypher) and no composition rules; the upper bound only keeps scrypt's input reasonable.
 */

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `Your password needs at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `Your password can have at most ${PASSWORD_MAX_LENGTH} characters.`;
  return null;
}
