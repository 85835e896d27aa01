/**
 * Redis fails under load (a private redis-server, killed and restarted; the shared one is never
 * touched), with Cypher on PostgreSQL (a fresh schema of TEST_DATABASE_URL) in this process.
 *
 * What degrades, by decision (SECURITY.md, "Failure modes"):
 *  - VerifySession and the Bearer calls keep answering for live sessions (PostgreSQL is the truth;
 *    Redis is a cache and the revocation channel);
 *  - logins and registrations fail closed with Unavailable: their attempt limits live in Redis, and
 *    guessing passwords unthrottled is worse than a short outage;
 *  - nothing is lost: every session works again, unchanged, when Redis returns.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, cypherClients, login, registerUser, type Clients, type Tokens, type User } from "../../bench/support/cypher-user.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { silentLogger } from "../../server/logger.js";
import { GENEROUS_LIMITS } from "../hardening/support/hardening-server.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { OwnRedis } from "./support/own-services.js";
import { codeOf, verifyUnderLoad } from "./support/verify-load.js";


if (!TEST_DATABASE_URL) {
  describe.skip("fault: Redis stopped under load (set TEST_DATABASE_URL to run)", () => {
    it("needs PostgreSQL (TEST_DATABASE_URL)", () => {});
  });
} else {
  describe("fault: Redis stopped under load", () => {
    let redis: OwnRedis;
    let schema: TestSchema;
    let server: CypherServer;
    let dir: string;
    let c: Clients;
    let users: User[];
    let sessions: Tokens[];

    beforeAll(async () => {
      redis = await OwnRedis.start();
      schema = await createTestSchema(TEST_DATABASE_URL!);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-fault-redis-"));
      const env = { PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", DATA_DIR: dir, DATABASE_URL: schema.url, REDIS_URL: redis.url, ...GENEROUS_LIMITS };
      server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env });
      c = cypherClients(createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }));
      users = [await registerUser(c, "fault-redis-a"), await registerUser(c, "fault-redis-b")];
      sessions = [await login(c, users[0]!), await login(c, users[1]!), await login(c, users[0]!)];
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
      await schema?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("keeps verifying live sessions from PostgreSQL while Redis is down, fails logins closed, and recovers when it returns", { timeout: 60_000 }, async () => {
      // Load: every session verified in a loop, before, during and after the outage.
      const load = verifyUnderLoad(c, sessions);
      const outcomes = load.outcomes;
      await new Promise((r) => setTimeout(r, 300));
      try {
        await outage();
      } finally {
        await load.stop();
        await redis.start().catch(() => undefined); // already up when outage() got that far
      }

      async function outage(): Promise<void> {
      await redis.stop();
      outcomes.clear();
      await new Promise((r) => setTimeout(r, 1_500));
      const duringLoad = new Map(outcomes);

      // Direct checks while Redis is down.
      for (const s of sessions) {
        const verified = await c.session.verifySession({ accessToken: s.accessToken });
        expect(verified.session?.sessionId).toBe(s.sessionId);
      }
      const listed = await c.session.listSessions({}, bearer(sessions[0]!.accessToken)).then(() => undefined, (e: unknown) => e);
      expect(["OK", "Unavailable"]).toContain(codeOf(listed));
      const loginInit = await c.auth.loginInit({ username: users[0]!.username, ke1: new Uint8Array(98) }).then(() => undefined, (e: unknown) => e);
      expect(["InvalidArgument"]).toContain(codeOf(loginInit)); // bad input is still refused before any Redis work
      const loginAttempt = await login(c, users[1]!).then(() => undefined, (e: unknown) => e);
      expect(codeOf(loginAttempt)).toBe("Unavailable");

      await load.stop();
      expect([...duringLoad.keys()].filter((k) => k !== "OK"), JSON.stringify([...duringLoad])).toEqual([]);
      expect(duringLoad.get("OK") ?? 0).toBeGreaterThan(0);

      // Redis returns (empty: a restart without persistence): everything works, no session lost.
      await redis.start();
      const deadline = Date.now() + 15_000;
      let relogged: Tokens | undefined;
      while (!relogged && Date.now() < deadline) {
        relogged = await login(c, users[1]!).catch(async () => {
          await new Promise((r) => setTimeout(r, 200));
          return undefined;
        });
      }
      expect(relogged, "a login works again once Redis is back").toBeDefined();
      for (const s of sessions) {
        expect((await c.session.verifySession({ accessToken: s.accessToken })).session?.sessionId).toBe(s.sessionId);
      }
      const refreshed = await c.session.refreshSession({ refreshToken: sessions[0]!.refreshToken });
      expect(refreshed.session?.sessionId).toBe(sessions[0]!.sessionId);
      expect((await c.session.listSessions({}, bearer(refreshed.tokens!.accessToken))).sessions.length).toBeGreaterThanOrEqual(2);
      }
    });
  });
}
