/**
 * What a backend calling VerifySession on every request notices of the in-process caches: a token
 * seen before skips the signature work, an expired token is refused however often it was seen,
 * a revocation is refused at once and drops the cached entries, and the in-process copy of a
 * session never outlives a revocation made through the shared KV store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import type { AppContext } from "../../server/app-context.js";
import { beginRevocation } from "../../server/session/revocation-log.js";
import { revokeSessions } from "../../server/session/session-store.js";
import type { KeyValueStore } from "../../server/storage/kv/key-value-store.js";
import { createPasetoTokenService } from "../../server/tokens/paseto-token-service.js";
import type { TokenService } from "../../server/tokens/token-service.js";
import { bearer, createActiveUser, createSessionHarness, expectRpcError, nextTotpStep, type SessionHarness } from "../support/session-fixture.js";
import { createTestContext, type TestContext } from "../support/test-context.js";

/** The real token service, counting the access tokens it is asked to verify. */
function countingTokens(inner: TokenService): TokenService & { accessVerifications: number } {
  const counting = {
    accessVerifications: 0,
    issue: inner.issue.bind(inner),
    publicKeys: inner.publicKeys.bind(inner),
    verify: (purpose: Parameters<TokenService["verify"]>[0], token: string) => {
      if (purpose === "access") counting.accessVerifications++;
      return inner.verify(purpose, token);
    },
  };
  return counting;
}

describe("the verified-token cache behind VerifySession", () => {
  let ctx: TestContext;
  let h: SessionHarness;
  let tokens: ReturnType<typeof countingTokens>;

  beforeAll(async () => {
    ctx = await createTestContext();
    tokens = countingTokens(await createPasetoTokenService(ctx.keys, ctx.clock));
    h = await createSessionHarness(ctx, { tokens });
  });
  afterAll(async () => {
    await h.close();
    await ctx.close();
  });

  it("checks a token's signature once, however often it is presented; another token is checked on its own", async () => {
    const user = await createActiveUser(ctx);
    const first = await h.login(user, "phone");
    const before = tokens.accessVerifications;
    for (let i = 0; i < 20; i++) await h.client.verifySession({ accessToken: first.accessToken });
    await Promise.all(Array.from({ length: 20 }, () => h.client.verifySession({ accessToken: first.accessToken })));
    expect(tokens.accessVerifications - before).toBe(1);

    const other = await h.login(await createActiveUser(ctx));
    await h.client.verifySession({ accessToken: other.accessToken });
    await h.client.verifySession({ accessToken: other.accessToken });
    expect(tokens.accessVerifications - before).toBe(2);
  });

  it("refuses a cached token once it has expired, and a tampered copy of a cached token", async () => {
    const user = await createActiveUser(ctx);
    const { accessToken } = await h.login(user);
    await h.client.verifySession({ accessToken });
    // One character changed in the signature: a different string, so never a cache hit.
    const tampered = accessToken.slice(0, 60) + (accessToken[60] === "A" ? "B" : "A") + accessToken.slice(61);
    await expectRpcError(h.client.verifySession({ accessToken: tampered }), Code.Unauthenticated, "TOKEN_INVALID");

    ctx.clock.advance(ctx.config.tokens.accessTtlSeconds * 1000 + 1000);
    const before = tokens.accessVerifications;
    await expectRpcError(h.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_EXPIRED");
    // The entry was not used: the token went back to the signature check, which refused it.
    expect(tokens.accessVerifications - before).toBe(1);
  });

  it("refuses a revoked session's cached token at once, and forgets it", async () => {
    const user = await createActiveUser(ctx);
    const phone = await h.login(user, "phone");
    nextTotpStep(ctx);
    const laptop = await h.login(user, "laptop");
    await h.client.verifySession({ accessToken: phone.accessToken });
    await h.client.verifySession({ accessToken: laptop.accessToken });

    await h.client.revokeSession({ sessionId: phone.sessionId }, bearer(laptop.accessToken));
    const before = tokens.accessVerifications;
    await expectRpcError(h.client.verifySession({ accessToken: phone.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    // Its entry was dropped with the revocation (the signature had to be checked again)...
    expect(tokens.accessVerifications - before).toBe(1);
    // ...while the other session's entry is still there.
    await h.client.verifySession({ accessToken: laptop.accessToken });
    expect(tokens.accessVerifications - before).toBe(1);
  });

  it("refuses every session of an account after Logout(all_sessions), on the very next call", async () => {
    const user = await createActiveUser(ctx);
    const sessions: Array<{ sessionId: string; accessToken: string }> = [];
    for (const device of ["a", "b", "c"]) {
      nextTotpStep(ctx);
      sessions.push(await h.login(user, device));
    }
    for (const s of sessions) await h.client.verifySession({ accessToken: s.accessToken });
    await h.client.logout({ allSessions: true }, bearer(sessions[0]!.accessToken));
    for (const s of sessions) await expectRpcError(h.client.verifySession({ accessToken: s.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
  });
});

/** Revokes a session in PostgreSQL, numbered like any revocation, without telling any tier. */
async function revokeInPostgresOnly(ctx: TestContext, sessionId: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const seq = await beginRevocation(trx);
    await revokeSessions(trx, { sessionIds: [sessionId], reason: "revoked", at: ctx.clock.now(), seq });
  });
}

describe("the in-process copy of a session", () => {
  it("is not trusted after a revocation that only the shared KV store knows of (no broadcast, no local call)", async () => {
    // Two instances on one in-process KV store whose broadcasts to instance B are lost: B learns of
    // A's logout only through the revocation epoch in the store.
    const a = await createTestContext();
    const kv = a.kv;
    const lossy: KeyValueStore = {
      set: (...args) => kv.set(...args),
      get: (key) => kv.get(key),
      getDel: (key) => kv.getDel(key),
      del: (...keys) => kv.del(...keys),
      increment: (key, windowMs) => kv.increment(key, windowMs),
      decrement: (key) => kv.decrement(key),
      publish: (channel, message) => kv.publish(channel, message),
      subscribe: async () => async () => {},
      ping: () => kv.ping(),
      close: async () => {},
    };
    // Same database, clock and keys: a second instance of one deployment.
    const b: AppContext = { ...a, kv: lossy };
    const ha = await createSessionHarness(a);
    const hb = await createSessionHarness(b);
    try {
      const user = await createActiveUser(a);
      const { accessToken } = await ha.login(user);
      await hb.client.verifySession({ accessToken });
      await hb.client.verifySession({ accessToken }); // now served from B's memory
      await ha.client.logout({}, bearer(accessToken));
      await expectRpcError(hb.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
    } finally {
      await hb.close();
      await ha.close();
      await a.close();
    }
  });

  it("is dropped by distrustEverything(): a revocation the KV store lost is read from PostgreSQL before the next answer", async () => {
    const ctx = await createTestContext();
    const h = await createSessionHarness(ctx);
    try {
      const user = await createActiveUser(ctx);
      const doomed = await h.login(user, "phone");
      nextTotpStep(ctx);
      const kept = await h.login(user, "laptop");
      for (const s of [doomed, kept, doomed, kept]) await h.client.verifySession({ accessToken: s.accessToken });
      // As if the KV store had lost the tombstone, the epoch and the broadcast (a failover).
      await revokeInPostgresOnly(ctx, doomed.sessionId);
      // Nothing in memory or in the KV store knows of it yet.
      await h.client.verifySession({ accessToken: doomed.accessToken });

      h.module.liveness.distrustEverything();
      await expectRpcError(h.client.verifySession({ accessToken: doomed.accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
      await expect(h.client.verifySession({ accessToken: kept.accessToken })).resolves.toMatchObject({ session: { sessionId: kept.sessionId } });
    } finally {
      await h.close();
      await ctx.close();
    }
  });

  it("is dropped by invalidate(): a session revoked in PostgreSQL only is refused once it returns, and tombstoned", async () => {
    const ctx = await createTestContext();
    const h = await createSessionHarness(ctx);
    try {
      const { sessionId, accessToken } = await h.login(await createActiveUser(ctx));
      await h.client.verifySession({ accessToken });
      await revokeInPostgresOnly(ctx, sessionId);
      await h.client.verifySession({ accessToken }); // still served from memory

      await h.module.liveness.invalidate([sessionId]);
      await expectRpcError(h.client.verifySession({ accessToken }), Code.Unauthenticated, "TOKEN_REVOKED");
      expect(JSON.parse(new TextDecoder().decode((await ctx.kv.get(`session:${sessionId}`))!))).toEqual({ state: "revoked" });
    } finally {
      await h.close();
      await ctx.close();
    }
  });
});
