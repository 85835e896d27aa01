/**
 * Registration as the browser drives it (the shared driver, client/registration.ts): OPAQUE
 * registration, then TOTP enrollment with the token that registration returned. The browser checks
 * the username and password rules first, so a person hears about them before any round trip.
 */
import { confirmTotp as confirmTotpCode, register as registerAccount, setupTotp as setupTotpFor, type TotpSetup } from "../../../client/registration.js";
import type { CypherClients } from "./clients.js";
import { FlowError } from "./flow-error.js";
import { withOpaqueFailures } from "./opaque-failure.js";
import { passwordProblem } from "./password.js";
import { newUsernameProblem, normalizeUsername } from "./username.js";

export type { TotpSetup };

/** A registered account waiting for its TOTP enrollment. The token is a secret: memory only. */
export interface PendingEnrollment {
  username: string;
  enrollmentToken: string;
  expiresAt: Date;
}

export async function register(clients: CypherClients, username: string, password: string): Promise<PendingEnrollment> {
  const normalized = normalizeUsername(username);
  const badUsername = newUsernameProblem(normalized);
  if (badUsername !== null) throw new FlowError("invalid-username", badUsername);
  const badPassword = passwordProblem(password);
  if (badPassword !== null) throw new FlowError("invalid-password", badPassword);

  const registration = await withOpaqueFailures("register", () => registerAccount(clients.auth, normalized, password));
  return {
    username: registration.username,
    enrollmentToken: registration.enrollmentToken,
    expiresAt: registration.enrollmentExpiresAt ?? new Date(Date.now() + 5 * 60_000),
  };
}

export async function setupTotp(clients: CypherClients, enrollment: PendingEnrollment): Promise<TotpSetup> {
  return await setupTotpFor(clients.auth, enrollment.enrollmentToken);
}

/** Confirms enrollment with a current code; the answer is the recovery codes, shown this once. */
export async function confirmTotp(clients: CypherClients, enrollment: PendingEnrollment, code: string): Promise<string[]> {
  return await confirmTotpCode(clients.auth, enrollment.enrollmentToken, normalizeTotpCode(code));
}

/** Authenticator apps show "123 456"; people paste that. The server wants six digits. */
export function normalizeTotpCode(input: string): string {
  const digits = input.replace(/[\s-]/g, "");
  if (!/^\d{6}$/.test(digits)) throw new FlowError("invalid-code", "Enter the 6-digit code from your authenticator app.");
  return digits;
}
