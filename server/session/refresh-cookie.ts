/**
 * Browser cookie mode. A request that carries the header `x-cypher-client: web` is the web client:
 *  - CreateSession and RefreshSession put the refresh token in the cookie
 *      __Host-cypher_refresh=<token>; HttpOnly; Secure; SameSite=Strict; Path=/;
 *      Max-Age=<seconds the token has left>
 *    and leave `tokens.refresh_token` empty in the body, so page scripts never hold it;
 *  - RefreshSession with an empty `refresh_token` reads the cookie;
 *  - Logout clears it (Max-Age=0).
 * The cookie is read ONLY when the header is present: a custom header cannot be sent cross-site
 * without a CORS preflight, which (with SameSite=Strict) keeps other sites from spending it.
 * `__Host-` (host-cookie.ts) makes the browser refuse any version of it with a Domain or another
 * Path, so a sibling subdomain cannot plant or shadow it; the price is Path=/, so the browser sends
 * it with every request to this origin (the server reads it only in SessionService calls).
 */
import { hostCookie, readCookie } from "./host-cookie.js";

export const WEB_CLIENT_HEADER = "x-cypher-client";
export const WEB_CLIENT_VALUE = "web";
export const REFRESH_COOKIE_NAME = "__Host-cypher_refresh";

export function isWebClient(headers: Headers): boolean {
  return headers.get(WEB_CLIENT_HEADER)?.trim().toLowerCase() === WEB_CLIENT_VALUE;
}

/** Sets the refresh cookie on a response, living as long as the token does. */
export function setRefreshCookie(responseHeader: Headers, token: string, expiresAt: Date, now: Date): void {
  responseHeader.append("set-cookie", hostCookie(REFRESH_COOKIE_NAME, token, (expiresAt.getTime() - now.getTime()) / 1000));
}

export function clearRefreshCookie(responseHeader: Headers): void {
  responseHeader.append("set-cookie", hostCookie(REFRESH_COOKIE_NAME, "", 0));
}

/** The refresh token from the request's cookies, or null. */
export function refreshTokenFromCookie(requestHeader: Headers): string | null {
  return readCookie(requestHeader, REFRESH_COOKIE_NAME);
}
