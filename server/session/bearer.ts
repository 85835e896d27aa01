/**
 * `authorization: Bearer <access token>` (RFC 6750 §2.1) for Logout, ListSessions and
 * RevokeSession. A missing or malformed header is an authentication failure (TOKEN_INVALID),
 * like a bad token: the caller has not proven who it is.
 */
import { unauthenticated } from "../errors.js";

export function bearerToken(headers: Headers): string {
  const value = headers.get("authorization");
  const match = value === null ? null : /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(value);
  if (!match) throw unauthenticated("TOKEN_INVALID");
  return match[1]!;
}
