/**
 * Browser cookie mode (`x-cypher-client: web`): the refresh token travels only in an HttpOnly,
 * Secure, SameSite=Strict cookie scoped to SessionService, never in a response body.
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
    const cookies = headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const cookie = parseSetCookie(cookies[0]!);
    expect(cookie.name).toBe("cypher_refresh");
    expect(cookie.attributes).toEqual({
      httponly: true,
      secure: true,
      samesite: "Strict",
      path: "/cypher.session.v1.SessionService/",
      "max-age": String(ctx.config.tokens.refreshTtlSeconds),
    });
    await expect(h.tokens.verify("refresh", cookie.value)).resolves.toMatchObject({ claims: { gen: 0 } });

    // RefreshSession with an empty field reads the cookie and sets the next one.
    ctx.clock.advance(60_000);
    const refreshed = await h.client.refreshSession({}, callOptions({ ...WEB, cookie: `theme=dark; cypher_refresh=${cookie.value}` }, (hd) => (headers = hd)));
    expect(refreshed.tokens!.refreshToken).toBe("");
    const next = parseSetCookie(headers.getSetCookie()[0]!);
    expect(next.value).not.toBe(cookie.value);
    await expect(h.tokens.verify("refresh", next.value)).resolves.toMatchObject({ claims: { gen: 1 } });
    // The cookie carried the same single-use token as a body would: spent now.
    ctx.clock.advance(60_000);
    await expectRpcError(h.client.refreshSession({}, callOptions({ ...WEB, cookie: `cypher_refresh=${cookie.value}` })), Code.Unauthenticated, "TOKEN_REUSED");
  });

  it("clears the cookie on Logout", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    let headers = new Headers();
    await h.client.logout({}, { ...bearer(accessToken, WEB), onHeader: (hd: Headers) => (headers = hd) });
    const cleared = parseSetCookie(headers.getSetCookie()[0]!);
    expect(cleared).toMatchObject({ name: "cypher_refresh", value: "", attributes: { "max-age": "0", path: "/cypher.session.v1.SessionService/" } });
  });

  it("answers Unauthenticated to a web RefreshSession without the cookie", async () => {
    await expectRpcError(h.client.refreshSession({}, callOptions(WEB)), Code.Unauthenticated, "TOKEN_INVALID");
    await expectRpcError(h.client.refreshSession({}, callOptions({ ...WEB, cookie: "cypher_refresh=" })), Code.Unauthenticated, "TOKEN_INVALID");
  });

  it("leaves other clients' responses without cookies", async () => {
    const user = await createActiveUser(ctx);
    let headers = new Headers();
    const res = await h.client.createSession(
      { loginToken: await h.loginToken(user), secondFactor: { case: "totpCode", value: await h.totp(user) } },
      callOptions({}, (hd) => (headers = hd)),
    );
    expect(res.tokens!.refreshToken).not.toBe("");
    expect(headers.getSetCookie()).toEqual([]);
  });
});
