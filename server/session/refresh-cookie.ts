/**
 * Browser cookie mode. A request that carries the header `x-cypher-client: web` is the web client:
 *  - CreateSession and RefreshSession put the refresh token in the cookie
 *      cypher_refresh=<token>; HttpOnly; Secure; SameSite=Strict;
 *      Path=/cypher.session.v1.SessionService/; Max-Age=<seconds the token has left>
 *    and leave `tokens.refresh_token` empty in the body, so page scripts never hold it;
 *  - RefreshSession with an empty `refresh_token` reads the cookie;
 *  - Logout clears it (Max-Age=0).
 * The cookie is read ONLY when the header is present: a custom header cannot be sent cross-site
 * without a CORS preflight, which (with SameSite=Strict) keeps other sites from spending it.
 * The cookie's path is the service's RPC prefix, so it is sent to SessionService calls only.
 */
export const WEB_CLIENT_HEADER = "x-cypher-client";
export const WEB_CLIENT_VALUE = "web";
export const REFRESH_COOKIE_NAME = "cypher_refresh";
export const REFRESH_COOKIE_PATH = "/cypher.session.v1.SessionService/";

export function isWebClient(headers: Headers): boolean {
  return headers.get(WEB_CLIENT_HEADER)?.trim().toLowerCase() === WEB_CLIENT_VALUE;
}

function cookie(value: string, maxAgeSeconds: number): string {
  return `${REFRESH_COOKIE_NAME}=${value}; HttpOnly; Secure; SameSite=Strict; Path=${REFRESH_COOKIE_PATH}; Max-Age=${maxAgeSeconds}`;
}

/** Sets the refresh cookie on a response, living as long as the token does. */
export function setRefreshCookie(responseHeader: Headers, token: string, expiresAt: Date, now: Date): void {
  responseHeader.append("set-cookie", cookie(token, Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000))));
}

export function clearRefreshCookie(responseHeader: Headers): void {
  responseHeader.append("set-cookie", cookie("", 0));
}

/** The refresh token from the request's cookies, or null. */
export function refreshTokenFromCookie(requestHeader: Headers): string | null {
  // Several Cookie headers (HTTP/2) come joined with ", "; tokens contain neither ',' nor ';'.
  for (const part of (requestHeader.get("cookie") ?? "").split(/[;,]/)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === REFRESH_COOKIE_NAME) {
      const value = part.slice(eq + 1).trim();
      return value === "" ? null : value;
    }
  }
  return null;
}
