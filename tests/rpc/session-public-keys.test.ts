/**
 * GetPublicKeys, and interoperability: an access token verified by an independent PASETO v4.public
 * verifier written here from the specification (PAE + Ed25519 with node:crypto), given nothing but
 * GetPublicKeys output. No code from the server or the paseto library is involved.
 */
import { createPublicKey, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublicKey } from "../../gen/cypher/session/v1/session_pb.js";
import type { KeyMaterial } from "../../server/keys/key-material.js";
import { generateEd25519Paserk, publicKeyOfSecretPaserk } from "../../server/keys/paserk.js";
import { createTestContext, type TestContext } from "../support/test-context.js";
import { createActiveUser, createSessionHarness, type SessionHarness } from "../support/session-fixture.js";

/** PASETO's pre-authentication encoding: LE64(count) ‖ for each piece LE64(length) ‖ piece. */
function pae(pieces: Uint8Array[]): Buffer {
  const le64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n) & 0x7fff_ffff_ffff_ffffn);
    return b;
  };
  return Buffer.concat([le64(pieces.length), ...pieces.flatMap((p) => [le64(p.length), Buffer.from(p)])]);
}

/** Verifies a v4.public token per the PASETO v4 spec; returns its claims or throws. */
function verifyV4Public(token: string, keys: PublicKey[], expected: { purpose: string; now: Date }): Record<string, unknown> {
  const header = "v4.public.";
  if (!token.startsWith(header)) throw new Error("not v4.public");
  const [payloadB64, footerB64 = "", ...rest] = token.slice(header.length).split(".");
  if (rest.length > 0 || !payloadB64) throw new Error("malformed");
  const payload = Buffer.from(payloadB64, "base64url");
  const footer = Buffer.from(footerB64, "base64url");
  const message = payload.subarray(0, payload.length - 64);
  const signature = payload.subarray(payload.length - 64);

  const { kid } = JSON.parse(footer.toString("utf8")) as { kid: string };
  const key = keys.find((k) => k.kid === kid && k.purpose === expected.purpose);
  if (!key) throw new Error("unknown kid");
  const raw = key.paserk.slice("k4.public.".length);
  const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw }, format: "jwk" });
  const signed = pae([Buffer.from(header), message, footer, Buffer.alloc(0)]);
  if (!verify(null, signed, publicKey, signature)) throw new Error("bad signature");

  const claims = JSON.parse(message.toString("utf8")) as Record<string, unknown>;
  if (new Date(String(claims.exp)).getTime() < expected.now.getTime()) throw new Error("expired");
  if (claims.aud !== `cypher:${expected.purpose}`) throw new Error("wrong audience");
  return claims;
}

describe("GetPublicKeys", () => {
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

  it("publishes one k4.public key per purpose, with its k4.pid", async () => {
    const { keys } = await h.client.getPublicKeys({});
    expect(keys.map((k) => k.purpose)).toEqual(["login", "access", "refresh"]);
    for (const key of keys) {
      expect(key.kid).toMatch(/^k4\.pid\.[A-Za-z0-9_-]{44}$/);
      expect(key.paserk).toMatch(/^k4\.public\.[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set(keys.map((k) => k.paserk)).size).toBe(3);
  });

  it("lets an independent PASETO v4.public verifier check an access token with nothing but its output", async () => {
    const user = await createActiveUser(ctx);
    const { sessionId, accessToken, refreshToken } = await h.login(user);
    const { keys } = await h.client.getPublicKeys({});

    const claims = verifyV4Public(accessToken, keys, { purpose: "access", now: ctx.clock.now() });
    expect(claims).toMatchObject({ sub: user.id, sid: sessionId, username: user.username, aud: "cypher:access" });
    expect(typeof claims.jti).toBe("string");

    // The same verifier refuses a tampered token and a token of another purpose.
    const tampered = accessToken.replace(/^(v4\.public\.)(.)/, (_m, h: string, c: string) => h + (c === "A" ? "B" : "A"));
    expect(() => verifyV4Public(tampered, keys, { purpose: "access", now: ctx.clock.now() })).toThrow();
    expect(() => verifyV4Public(refreshToken, keys, { purpose: "access", now: ctx.clock.now() })).toThrow(/unknown kid/);
  });

  it("after a key rotation, publishes the old key too and still accepts the tokens it signed", async () => {
    const user = await createActiveUser(ctx);
    const before = await h.login(user);
    const oldAccess = ctx.keys.tokens.access;
    const rotatedKeys: KeyMaterial = {
      ...ctx.keys,
      tokens: {
        ...ctx.keys.tokens,
        access: { signingKey: generateEd25519Paserk().secret, previousPublicKeys: [publicKeyOfSecretPaserk(oldAccess.signingKey)!] },
      },
    };
    const rotated = await createSessionHarness({ ...ctx, keys: rotatedKeys });
    try {
      const { keys } = await rotated.client.getPublicKeys({});
      const access = keys.filter((k) => k.purpose === "access");
      expect(access).toHaveLength(2);
      expect(access[1]!.paserk).toBe(publicKeyOfSecretPaserk(oldAccess.signingKey));
      // A token signed before the rotation verifies, online and offline.
      await expect(rotated.client.verifySession({ accessToken: before.accessToken })).resolves.toMatchObject({ session: { sessionId: before.sessionId } });
      verifyV4Public(before.accessToken, keys, { purpose: "access", now: ctx.clock.now() });
      // New tokens are signed with the new key.
      const refreshed = await rotated.client.refreshSession({ refreshToken: before.refreshToken });
      const footer = JSON.parse(Buffer.from(refreshed.tokens!.accessToken.split(".")[3]!, "base64url").toString("utf8"));
      expect(footer.kid).toBe(access[0]!.kid);
      verifyV4Public(refreshed.tokens!.accessToken, keys, { purpose: "access", now: ctx.clock.now() });
    } finally {
      await rotated.close();
    }
  });
});
