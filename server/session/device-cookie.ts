/**
 * The device credential in browser cookie mode (`x-cypher-client: web`, see refresh-cookie.ts):
 * CreateSession sets
 *     __Host-cypher_device=<token>; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=<its lifetime>
 * instead of filling CreateSessionResponse.device_token, and LoginInit reads it when the request
 * field is empty. Path=/ is what `__Host-` requires, and it is what lets the cookie reach
 * AuthService.LoginInit. Logout with all_sessions clears it (the server has revoked it already).
 */
import { hostCookie, readCookie } from "./host-cookie.js";

export const DEVICE_COOKIE_NAME = "__Host-cypher_device";

export function setDeviceCookie(responseHeader: Headers, token: string, expiresAt: Date, now: Date): void {
  responseHeader.append("set-cookie", hostCookie(DEVICE_COOKIE_NAME, token, (expiresAt.getTime() - now.getTime()) / 1000));
}

export function clearDeviceCookie(responseHeader: Headers): void {
  responseHeader.append("set-cookie", hostCookie(DEVICE_COOKIE_NAME, "", 0));
}

export function deviceTokenFromCookie(requestHeader: Headers): string | null {
  return readCookie(requestHeader, DEVICE_COOKIE_NAME);
}
