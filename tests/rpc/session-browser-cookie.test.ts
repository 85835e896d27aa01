/**
 * Browser cookie mode (`x-cypher-client: web`): the refresh token and the device credential travel
 * only in HttpOnly, Secure, SameSite=Strict `__Host-` cookies (Path=/, no Domain, so a sibling
 * subdomain cannot shadow them), never in a response body.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { bearer, callOptions, createActiveUser, createSessionHarness, expectRpcError, type SessionHarness } from "../support/session-fixture.js";

const WEB = { "x-cypher-client": "web" };

function parseSetCookie(header: string): { name: string; value: string; attributes: Record<string, string | true> } {
  const [pair, ...attrs] = header.split(";").map((s) => s.trim());
  const eq = pair!.indexOf("=");
  const attributes: Record<string, string | true> = {};
  for (const a of attrs) {
    const i = a.indexOf("=");
    attributes[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? true : a.slice(i + 1);
  }
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attributes };
}

describe("browser cookie mode", () => {
  let ctx: TestContext;
  let h: SessionHarness;

  beforeAll(async () => {
    ctx = await createTestContext();
    h = await createSessionHarness(ctx);
  });
  afterAll(async () => {
    await h?.close();
    await ctx?.close();
  });

  it("keeps the refresh token in an HttpOnly cookie through create, refresh and logout", async () => {
    const user = await createActiveUser(ctx);
    let headers = new Headers();
    const created = await h.client.createSession(
      { loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user) }, deviceName: "browser" },
      callOptions(WEB, (hd) => (headers = hd)),
    );
    expect(created.tokens!.refreshToken).toBe("");
    expect(created.tokens!.accessToken).not.toBe("");
    expect(created.tokens!.refreshTokenExpiresAt).toBeDefined();
    expect(created.deviceToken).toBe("");
    const cookies = headers.getSetCookie().map(parseSetCookie);
    expect(cookies.map((c) => c.name).sort()).toEqual(["__Host-cypher_device", "__Host-cypher_refresh"]);
    const cookie = cookies.find((c) => c.name === "__Host-cypher_refresh")!;
    expect(cookie.attributes).toEqual({
      httponly: true,
      secure: true,
      samesite: "Strict",
      path: "/",
      "max-age": String(ctx.config.tokens.refreshTtlSeconds),
    });
    const device = cookies.find((c) => c.name === "__Host-cypher_device")!;
    expect(device.attributes).toEqual({
      httponly: true,
      secure: true,
      samesite: "Strict",
      path: "/",
      "max-age": String(ctx.config.tokens.deviceTokenTtlSeconds),
    });
    expect(device.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(h.tokens.verify("refresh", cookie.value)).resolves.toMatchObject({ claims: { gen: 0 } });

    // RefreshSession with an empty field reads the cookie and sets the next one.
    ctx.clock.advance(60_000);
    const refreshed = await h.client.refreshSession({}, callOptions({ ...WEB, cookie: `theme=dark; __Host-cypher_refresh=${cookie.value}` }, (hd) => (headers = hd)));
    expect(refreshed.tokens!.refreshToken).toBe("");
    const next = parseSetCookie(headers.getSetCookie()[0]!);
    expect(next.value).not.toBe(cookie.value);
    await expect(h.tokens.verify("refresh", next.value)).resolves.toMatchObject({ claims: { gen: 1 } });
    // The cookie carried the same single-use token as a body would: spent now.
    ctx.clock.advance(60_000);
    await expectRpcError(h.client.refreshSession({}, callOptions({ ...WEB, cookie: `__Host-cypher_refresh=${cookie.value}` })), Code.Unauthenticated, "TOKEN_REUSED");
  });

  it("clears the cookie on Logout", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    let headers = new Headers();
    await h.client.logout({}, { ...bearer(accessToken, WEB), onHeader: (hd: Headers) => (headers = hd) });
    expect(headers.getSetCookie().map(parseSetCookie)).toEqual([
      { name: "__Host-cypher_refresh", value: "", attributes: { httponly: true, secure: true, samesite: "Strict", path: "/", "max-age": "0" } },
    ]);
  });

  it("clears the device cookie too on Logout with all_sessions", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    let headers = new Headers();
    await h.client.logout({ allSessions: true }, { ...bearer(accessToken, WEB), onHeader: (hd: Headers) => (headers = hd) });
    expect(headers.getSetCookie().map((c) => parseSetCookie(c)).map((c) => [c.name, c.value, c.attributes["max-age"]])).toEqual([
      ["__Host-cypher_refresh", "", "0"],
      ["__Host-cypher_device", "", "0"],
    ]);
  });

  it("no longer reads the refresh token from the old, shadowable cookie name", async () => {
    const user = await createActiveUser(ctx);
    const { refreshToken } = await h.login(user);
    await expectRpcError(h.client.refreshSession({}, callOptions({ ...WEB, cookie: `cypher_refresh=${refreshToken}` })), Code.Unauthenticated, "TOKEN_INVALID");
  });

  it("answers Unauthenticated to a web RefreshSession without the cookie", async () => {
    await expectRpcError(h.client.refreshSession({}, callOptions(WEB)), Code.Unauthenticated, "TOKEN_INVALID");
    await expectRpcError(h.client.refreshSession({}, callOptions({ ...WEB, cookie: "__Host-cypher_refresh=" })), Code.Unauthenticated, "TOKEN_INVALID");
  });

  it("leaves other clients' responses without cookies", async () => {
    const user = await createActiveUser(ctx);
    let headers = new Headers();
    const res = await h.client.createSession(
      { loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user) } },
      callOptions({}, (hd) => (headers = hd)),
    );
    expect(res.tokens!.refreshToken).not.toBe("");
    expect(res.deviceToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(headers.getSetCookie()).toEqual([]);
  });
});
