import { createPrivateKey, sign } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { ClaimValidationError, PublicProtocol } from "paseto";
import { ImportPublicKeyFactory, ImportSecretKeyFactory, SignFactory, VerifyFactory } from "paseto/v4/public";
import { ManualClock } from "../../server/clock.js";
import { CypherError } from "../../server/errors.js";
import { TOKEN_PURPOSES, type KeyMaterial } from "../../server/keys/key-material.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import { generateEd25519Paserk, publicKeyOfSecretPaserk } from "../../server/keys/paserk.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import { publicKeyId } from "../../server/tokens/paserk-id.js";
import type { TokenService } from "../../server/tokens/token-service.js";

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CypherError);
    expect((error as CypherError).code).toBe("unauthenticated");
    return String((error as CypherError).details.reason);
  }
  throw new Error("expected the token to be refused");
}

function footerOf(token: string): unknown {
  return JSON.parse(Buffer.from(token.split(".")[3]!, "base64url").toString("utf8"));
}

/** A v4.public token over any claims, signed with node:crypto by the access key (PAE as in the spec). */
function signWithAccessKey(keys: KeyMaterial, kid: string, claims: Record<string, unknown>): string {
  const raw = Buffer.from(keys.tokens.access.signingKey.slice("k4.secret.".length), "base64url");
  const jwk = { kty: "OKP", crv: "Ed25519", d: raw.subarray(0, 32).toString("base64url"), x: raw.subarray(32).toString("base64url") };
  const message = Buffer.from(JSON.stringify(claims));
  const footer = Buffer.from(JSON.stringify({ kid }));
  const le64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(n);
    return b;
  };
  const pieces = [Buffer.from("v4.public."), message, footer, Buffer.alloc(0)];
  const pae = Buffer.concat([le64(pieces.length), ...pieces.flatMap((piece) => [le64(piece.length), piece])]);
  const signature = sign(null, pae, createPrivateKey({ key: jwk, format: "jwk" }));
  return `v4.public.${Buffer.concat([message, signature]).toString("base64url")}.${footer.toString("base64url")}`;
}

function withAccessKeys(keys: KeyMaterial, signingKey: string, previousPublicKeys: string[]): KeyMaterial {
  return { ...keys, tokens: { ...keys.tokens, access: { signingKey, previousPublicKeys } } };
}

describe("PASETO token service", () => {
  let keys: KeyMaterial;
  let clock: ManualClock;
  let tokens: TokenService;

  beforeAll(async () => {
    keys = await generateKeyMaterial();
    clock = new ManualClock(Date.UTC(2026, 10, 21, 12, 0, 0, 250));
    tokens = await createPasetoTokenService(keys, clock);
  });

  it("round-trips claims, jti and times, with the signing key's kid in the footer", async () => {
    const issued = await tokens.issue("access", { sub: "user-1", sid: "session-1", username: "alice" }, { ttlSeconds: 900 });
    expect(issued.token.startsWith("v4.public.")).toBe(true);
    // paseto writes whole seconds; the service reports exactly what was signed.
    expect(issued.issuedAt.toISOString()).toBe("2026-11-21T12:00:00.000Z");
    expect(issued.expiresAt.toISOString()).toBe("2026-11-21T12:15:00.000Z");

    const verified = await tokens.verify("access", issued.token);
    expect(verified).toEqual({
      jti: issued.jti,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      claims: { sub: "user-1", sid: "session-1", username: "alice" },
    });
    const accessKey = tokens.publicKeys().find((k) => k.purpose === "access")!;
    expect(footerOf(issued.token)).toEqual({ kid: accessKey.kid });
  });

  it("gives every token a fresh jti unless one is asked for", async () => {
    const a = await tokens.issue("login", { sub: "u" }, { ttlSeconds: 60 });
    const b = await tokens.issue("login", { sub: "u" }, { ttlSeconds: 60 });
    expect(a.jti).not.toBe(b.jti);
    expect(a.token).not.toBe(b.token);
  });

  it("refuses a token of one purpose as any other purpose", async () => {
    for (const issuedAs of TOKEN_PURPOSES) {
      const { token } = await tokens.issue(issuedAs, { sub: "u" }, { ttlSeconds: 60 });
      for (const checkedAs of TOKEN_PURPOSES) {
        if (checkedAs === issuedAs) await expect(tokens.verify(checkedAs, token)).resolves.toBeDefined();
        else expect(await reasonOf(tokens.verify(checkedAs, token))).toBe("TOKEN_INVALID");
      }
    }
  });

  it("binds the purpose through the audience even if two purposes shared one key", async () => {
    const shared = generateEd25519Paserk().secret;
    const sameKeyEverywhere: KeyMaterial = {
      ...keys,
      tokens: {
        login: { signingKey: shared, previousPublicKeys: [] },
        access: { signingKey: shared, previousPublicKeys: [] },
        refresh: { signingKey: shared, previousPublicKeys: [] },
      },
    };
    const misconfigured = await createPasetoTokenService(sameKeyEverywhere, clock);
    const { token } = await misconfigured.issue("refresh", { sid: "s" }, { ttlSeconds: 60 });
    expect(await reasonOf(misconfigured.verify("access", token))).toBe("TOKEN_INVALID");
  });

  it("expires by the injected clock, not the wall clock", async () => {
    const local = new ManualClock(Date.UTC(2030, 0, 1));
    const service = await createPasetoTokenService(keys, local);
    const { token } = await service.issue("access", { sub: "u" }, { ttlSeconds: 900 });
    local.advance(900_000);
    await expect(service.verify("access", token)).resolves.toBeDefined();
    local.advance(1_000);
    expect(await reasonOf(service.verify("access", token))).toBe("TOKEN_EXPIRED");
  });

  it("refuses a token issued after the clock's now", async () => {
    const { token } = await tokens.issue("access", { sub: "u" }, { ttlSeconds: 900, issuedAt: new Date(clock.now().getTime() + 60_000) });
    expect(await reasonOf(tokens.verify("access", token))).toBe("TOKEN_INVALID");
  });

  it("refuses a tampered payload, signature or footer", async () => {
    const { token } = await tokens.issue("access", { sub: "user-1" }, { ttlSeconds: 900 });
    const [v, p, body, footer] = token.split(".") as [string, string, string, string];
    const raw = Buffer.from(body, "base64url");
    const claimsEnd = raw.length - 64;
    const tamperedClaims = Buffer.from(raw);
    tamperedClaims.write(raw.subarray(0, claimsEnd).toString("utf8").replace("user-1", "user-2"), 0, "utf8");
    const tamperedSignature = Buffer.from(raw);
    tamperedSignature[raw.length - 1]! ^= 1;
    const otherKid = Buffer.from(JSON.stringify({ kid: tokens.publicKeys()[0]!.kid })).toString("base64url");
    for (const bad of [
      [v, p, tamperedClaims.toString("base64url"), footer].join("."),
      [v, p, tamperedSignature.toString("base64url"), footer].join("."),
      [v, p, body, Buffer.from(JSON.stringify({ kid: "k4.pid.nope" })).toString("base64url")].join("."),
      [v, p, body, otherKid].join("."),
      [v, p, body].join("."),
    ]) {
      expect(await reasonOf(tokens.verify("access", bad))).toBe("TOKEN_INVALID");
    }
  });

  it("refuses a token signed with a key it does not know, even under a known kid", async () => {
    const stranger = await createPasetoTokenService(await generateKeyMaterial(), clock);
    const { token } = await stranger.issue("access", { sub: "u" }, { ttlSeconds: 900 });
    expect(await reasonOf(tokens.verify("access", token))).toBe("TOKEN_INVALID");

    // A forger copies our kid into the footer but signs with its own key.
    const v4 = new PublicProtocol(SignFactory, ImportSecretKeyFactory);
    const forgerKey = await v4.ImportSecretKey(generateEd25519Paserk().secret as `k4.secret.${string}`);
    const ourKid = tokens.publicKeys().find((k) => k.purpose === "access")!.kid;
    const forged = await v4.Sign(
      forgerKey,
      { sub: "u", aud: "cypher:access", jti: "x", iat: "2026-11-21T12:00:00Z", exp: "2026-11-21T13:00:00Z" },
      { footer: new TextEncoder().encode(JSON.stringify({ kid: ourKid })), now: clock.now() },
    );
    expect(await reasonOf(tokens.verify("access", forged))).toBe("TOKEN_INVALID");
  });

  it("still verifies tokens of a previous key after rotation, and publishes both keys", async () => {
    const oldKey = keys.tokens.access.signingKey;
    const oldPublic = publicKeyOfSecretPaserk(oldKey)!;
    const newKey = generateEd25519Paserk();
    const before = await tokens.issue("access", { sub: "u" }, { ttlSeconds: 900 });

    const rotated = await createPasetoTokenService(withAccessKeys(keys, newKey.secret, [oldPublic]), clock);
    await expect(rotated.verify("access", before.token)).resolves.toMatchObject({ jti: before.jti });
    const after = await rotated.issue("access", { sub: "u" }, { ttlSeconds: 900 });
    expect(footerOf(after.token)).toEqual({ kid: publicKeyId(newKey.public) });
    // The old deployment does not know the new key.
    expect(await reasonOf(tokens.verify("access", after.token))).toBe("TOKEN_INVALID");

    const published = rotated.publicKeys().filter((k) => k.purpose === "access");
    expect(published.map((k) => k.paserk)).toEqual([newKey.public, oldPublic]);
    // Signing keys first, for every purpose.
    expect(rotated.publicKeys().slice(0, 3).map((k) => k.purpose)).toEqual(["login", "access", "refresh"]);

    // Once the old key is dropped, its tokens are refused (unknown kid).
    const dropped = await createPasetoTokenService(withAccessKeys(keys, newKey.secret, []), clock);
    expect(await reasonOf(dropped.verify("access", before.token))).toBe("TOKEN_INVALID");
  });

  it("computes kids as PASERK k4.pid (spec test vector and published keys)", () => {
    // paserk test-vectors k4.pid.json, "k4.pid-1" (all-zero public key).
    expect(publicKeyId("k4.public.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toBe("k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE");
    for (const key of tokens.publicKeys()) {
      expect(key.kid).toBe(publicKeyId(key.paserk));
      expect(key.paserk).toBe(publicKeyOfSecretPaserk(keys.tokens[key.purpose].signingKey));
    }
  });

  it("re-signs an identical token from the same jti and issue time", async () => {
    const first = await tokens.issue("refresh", { sid: "s", gen: 3 }, { ttlSeconds: 3600 });
    clock.advance(5_000);
    const again = await tokens.issue("refresh", { gen: 3, sid: "s" }, { ttlSeconds: 3600, jti: first.jti, issuedAt: first.issuedAt });
    expect(again).toEqual(first);
  });

  it("refuses reserved claim names and nonsense lifetimes as programming errors", async () => {
    await expect(tokens.issue("access", { exp: "later" }, { ttlSeconds: 60 })).rejects.toThrow(TypeError);
    await expect(tokens.issue("access", { aud: "other" }, { ttlSeconds: 60 })).rejects.toThrow(TypeError);
    await expect(tokens.issue("access", {}, { ttlSeconds: 0 })).rejects.toThrow(TypeError);
  });

  it("answers TOKEN_INVALID, never another error, for any garbage", async () => {
    for (const garbage of ["", "v4.public.", "v4.public..", "v4.local.AAAA", "v2.public.AAAA.AAAA", "a.b.c.d.e", "x".repeat(100_000), "v4.public.!!!!.####"]) {
      expect(await reasonOf(tokens.verify("access", garbage))).toBe("TOKEN_INVALID");
    }
    expect(await reasonOf(tokens.verify("access", 42 as unknown as string))).toBe("TOKEN_INVALID");
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (payload, footer) => {
        const candidate = `v4.public.${Buffer.from(payload).toString("base64url")}.${Buffer.from(footer).toString("base64url")}`;
        expect(await reasonOf(tokens.verify("access", candidate))).toBe("TOKEN_INVALID");
        expect(await reasonOf(tokens.verify("access", payload))).toBe("TOKEN_INVALID");
      }),
      { numRuns: 200 },
    );
  });

  describe("agrees with the paseto library's Verify, which it replaces for verification", () => {
    const library = new PublicProtocol(SignFactory, VerifyFactory, ImportSecretKeyFactory, ImportPublicKeyFactory);

    /** The library's verdict on an access token: the claims, or the reason we would give. */
    async function libraryVerdict(token: string): Promise<Record<string, unknown> | string> {
      const accessKey = tokens.publicKeys().find((k) => k.purpose === "access")!;
      try {
        const { claims } = await library.Verify(await library.ImportPublicKey(accessKey.paserk as `k4.public.${string}`), token, {
          now: clock.now(),
          footer: new TextEncoder().encode(JSON.stringify({ kid: accessKey.kid })),
          audience: "cypher:access",
          requiredClaims: ["jti", "iat", "exp"],
        });
        return claims as Record<string, unknown>;
      } catch (error) {
        return error instanceof ClaimValidationError && error.claim === "exp" ? "TOKEN_EXPIRED" : "TOKEN_INVALID";
      }
    }

    async function ourVerdict(token: string): Promise<Record<string, unknown> | string> {
      try {
        const { jti, issuedAt, expiresAt, claims } = await tokens.verify("access", token);
        const rfc3339 = (at: Date) => at.toISOString().replace(".000Z", "Z");
        return { ...claims, aud: "cypher:access", jti, iat: rfc3339(issuedAt), exp: rfc3339(expiresAt) };
      } catch (error) {
        return reasonOf(Promise.reject(error));
      }
    }

    /** A token changed the way an attacker or a broken proxy might: one byte, one character, or cut short. */
    const mutation = fc.oneof(
      { arbitrary: fc.constant({ kind: "none" as const }), weight: 3 },
      fc.record({ kind: fc.constant("flip-byte" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("swap-char" as const), at: fc.nat(), char: fc.constantFrom(..."AZaz09-_.=+/ ") }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    );

    function mutate(token: string, m: { kind: string; at?: number; bit?: number; char?: string }): string {
      const [v, p, body, footer] = token.split(".") as [string, string, string, string];
      if (m.kind === "flip-byte") {
        const raw = Buffer.from(body, "base64url");
        raw[m.at! % raw.length]! ^= 1 << m.bit!;
        return [v, p, raw.toString("base64url"), footer].join(".");
      }
      if (m.kind === "swap-char") {
        const at = m.at! % token.length;
        return token.slice(0, at) + m.char! + token.slice(at + 1);
      }
      if (m.kind === "truncate") return token.slice(0, m.at! % token.length);
      return token;
    }

    it("gives the same verdict and claims on genuine, expired and mutated tokens", async () => {
      const verdicts = new Map<string, number>();
      const claimValue = fc.oneof(fc.string(), fc.integer(), fc.boolean());
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), claimValue, { maxKeys: 4 }),
          // Seconds since issue: live (TTL 600 s), expired, or issued in the future.
          fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 601, max: 5_000 }), fc.integer({ min: -1_000, max: -1 })),
          mutation,
          async (claims, ageSeconds, m) => {
            for (const reserved of ["aud", "jti", "iat", "exp", "nbf"]) delete claims[reserved];
            const issuedAt = new Date(clock.now().getTime() - ageSeconds * 1000);
            const { token } = await tokens.issue("access", claims, { ttlSeconds: 600, issuedAt });
            const candidate = mutate(token, m);
            const verdict = await ourVerdict(candidate);
            expect(verdict).toEqual(await libraryVerdict(candidate));
            const kind = typeof verdict === "string" ? verdict : "accepted";
            verdicts.set(kind, (verdicts.get(kind) ?? 0) + 1);
          },
        ),
        { numRuns: 300 },
      );
      // The comparison covered all three outcomes, not only refusals.
      for (const kind of ["accepted", "TOKEN_EXPIRED", "TOKEN_INVALID"]) expect(verdicts.get(kind)).toBeGreaterThan(10);
    });

    it("refuses what the library refuses in claims we never write, and date-times in forms we never write", async () => {
      // Signed with our access key by hand: the library will not sign some of these claims.
      const accessKid = tokens.publicKeys().find((k) => k.purpose === "access")!.kid;
      const sign = (claims: Record<string, unknown>) => signWithAccessKey(keys, accessKid, claims);
      const good = { aud: "cypher:access", jti: "j", iat: "2026-11-21T11:59:00Z", exp: "2026-11-21T12:10:00Z" };
      expect(await ourVerdict(sign(good))).toEqual(good);
      expect(await libraryVerdict(sign(good))).toEqual(good);

      for (const [claims, libraryToo] of [
        [{ ...good, nbf: "2026-11-21T12:05:00Z" }, true], // not active yet
        [{ ...good, aud: "cypher:refresh" }, true],
        [{ ...good, jti: 7 }, true],
        [{ ...good, iat: undefined }, true],
        [{ ...good, iat: "2026-11-21T12:01:00Z" }, true], // issued in the future
        [{ ...good, exp: "2026-11-21T13:10:00+01:00" }, false], // a valid RFC 3339 form we never write
        [{ ...good, iat: "2026-11-21T11:59:00.5Z" }, false],
        [{ ...good, iat: "2026-02-30T11:59:00Z" }, true], // no such day
      ] as const) {
        const token = sign(claims);
        expect(await ourVerdict(token)).toBe("TOKEN_INVALID");
        if (libraryToo) expect(await libraryVerdict(token)).toBe("TOKEN_INVALID");
      }
    });

    it("refuses a payload encoded non-canonically, though it decodes to the signed bytes", async () => {
      const { token } = await tokens.issue("access", { sub: "u" }, { ttlSeconds: 900 });
      const [v, p, body, footer] = token.split(".") as [string, string, string, string];
      // The last character of unpadded base64url carries spare low bits; setting one keeps the bytes.
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      expect(body.length % 4).not.toBe(0);
      const twin = body.slice(0, -1) + alphabet[alphabet.indexOf(body.at(-1)!) ^ 1]!;
      expect(twin).not.toBe(body);
      expect(Buffer.from(twin, "base64url")).toEqual(Buffer.from(body, "base64url"));
      expect(await reasonOf(tokens.verify("access", [v, p, twin, footer].join(".")))).toBe("TOKEN_INVALID");
    });
  });
});
