/**
 * Cookies of browser cookie mode (see refresh-cookie.ts and device-cookie.ts), all `__Host-`
 * prefixed: the browser accepts such a cookie only with Secure, Path=/ and no Domain, so a sibling
 * subdomain (which may set cookies for the parent domain) can neither set nor shadow it.
 */

/** A Set-Cookie value for a `__Host-` cookie: HttpOnly, Secure, SameSite=Strict, Path=/, no Domain. */
export function hostCookie(name: string, value: string, maxAgeSeconds: number): string {
  if (!name.startsWith("__Host-")) throw new TypeError(`cookie ${name} must carry the __Host- prefix`);
  return `${name}=${value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
}

/** The value of cookie `name` in the request, or null when absent or empty. */
export function readCookie(requestHeader: Headers, name: string): string | null {
  // Several Cookie headers (HTTP/2) come joined with ", "; our values contain neither ',' nor ';'.
  for (const part of (requestHeader.get("cookie") ?? "").split(/[;,]/)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === "" ? null : value;
    }
  }
  return null;
}
