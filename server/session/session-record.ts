/**
 * A session as the service reasons about it: one logged-in device of one account. PostgreSQL's
 * `sessions` row (joined with the account's username) is the truth; the KV cache holds copies.
 */
export interface SessionRecord {
  id: string;
  userId: string;
  username: string;
  deviceName: string;
  createdAt: Date;
  /** The absolute end of the session, however often it is refreshed. */
  expiresAt: Date;
  lastRefreshedAt: Date | null;
  revokedAt: Date | null;
}

export type SessionState = "live" | "revoked" | "expired";

export function sessionState(session: Pick<SessionRecord, "revokedAt" | "expiresAt">, now: Date): SessionState {
  if (session.revokedAt !== null) return "revoked";
  return session.expiresAt.getTime() > now.getTime() ? "live" : "expired";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` can be a session, user or token id (so no malformed id ever reaches a uuid column). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
