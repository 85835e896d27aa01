/**
 * The password never leaves the browser, so the server cannot check it: these rules live here.
 * OWASP ASVS 4.0.3 level 2 (2.1.1) asks for at least 12 characters — stricter than NIST SP 800-63B's 8
 * with a second factor — and, like NIST, no composition rules; the upper bound only keeps scrypt's
 * input reasonable.
 */

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `Your password needs at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `Your password can have at most ${PASSWORD_MAX_LENGTH} characters.`;
  return null;
}
