/**
 * What tabs of the app tell each other over a BroadcastChannel (same origin only). Access tokens
 * travel here so that only one tab has to spend the refresh cookie; the refresh token never does
 * (no page JavaScript can read it).
 */
import type { AccessToken } from "./access-token.js";

export const SESSION_CHANNEL_NAME = "cypher-session";

/** Who is logged in, as the app shows it. */
export interface SessionInfo {
  sessionId: string;
  userId: string;
  username: string;
  deviceName: string;
}

export type TabMessage =
  /** A tab without a fresh token asks whether another tab has one. */
  | { type: "token-request"; from: string }
  /** A tab shares its fresh token (after a refresh, a login, or on request). */
  | { type: "token"; from: string; token: AccessToken; session: SessionInfo }
  /** A tab logged out (or found the session gone): every tab is now logged out. */
  | { type: "signed-out"; from: string; atMs: number };

export function isTabMessage(data: unknown): data is TabMessage {
  if (typeof data !== "object" || data === null) return false;
  const m = data as { type?: unknown; from?: unknown };
  return typeof m.from === "string" && (m.type === "token-request" || m.type === "token" || m.type === "signed-out");
}
