/**
 * Races on real PostgreSQL (a fresh schema of TEST_DATABASE_URL) and real Redis (a private
 * redis-server, so the limiter keys are this run's alone), through a real Cypher over HTTP/2:
 *  - 100 parallel LoginInits for one account: exactly LOGIN_MAX_FAILURES_PER_USERNAME get through;
 *  - 50 parallel RefreshSession with one token: one successor pair;
 *  - parallel CreateSession with one login token: one session.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, cypherClients, login, loginToken, nextSecondFactor, registerUser, type Clients } from "../../bench/support/cypher-user.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { silentLogger } from "../../server/logger.js";
import { validPoint } from "../hardening/support/malformed-arbitraries.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { OwnRedis } from "./support/own-services.js";

const LIMIT = 10;
const codeOf = (e: unknown) => (e === undefined ? "OK" : Code[ConnectError.from(e).code]);
const count = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});

if (!TEST_DATABASE_URL) {
  describe.skip("races on PostgreSQL and Redis (set TEST_DATABASE_URL to run)", () => {
    it("needs PostgreSQL (TEST_DATABASE_URL)", () => {});
  });
} else {
  describe("races on PostgreSQL and Redis", () => {
    let redis: OwnRedis;
    let schema: TestSchema;
    let server: CypherServer;
    let dir: string;
    let c: Clients;

    beforeAll(async () => {
      redis = await OwnRedis.start();
      schema = await createTestSchema(TEST_DATABASE_URL!);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-races-"));
      const env = {
        PORT: "0",
        HOST: "127.0.0.1",
        GRPC_PORT: "off",
        METRICS_PORT: "0",
        DATA_DIR: dir,
        DATABASE_URL: schema.url,
        REDIS_URL: redis.url,
        LOGIN_MAX_FAILURES_PER_USERNAME: String(LIMIT),
        LOGIN_BACKOFF_BASE_MS: "0",
        LOGIN_MAX_ATTEMPTS_PER_IP: "100000",
        REGISTER_MAX_PER_IP: "100000",
        OPAQUE_MAX_QUEUED_CALLS: "1000",
      };
      server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env });
      c = cypherClients(createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
      await schema?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it(`100 parallel failed logins for one account: exactly ${LIMIT} get through, then lockout`, { timeout: 60_000 }, async () => {
      const user = await registerUser(c, "race-lockout");
      const ke1 = new Uint8Array([...validPoint(), ...new Uint8Array(32).fill(1), ...validPoint()]);
      // Never finished: each is a failed attempt as far as the server can tell (a wrong password
      // shows up exactly like this, see LIBRARIES.md).
      const results = await Promise.all(
        Array.from({ length: 100 }, () => c.auth.loginInit({ username: user.username, ke1 }).then(() => "OK", codeOf)),
      );
      expect(count(results)).toEqual({ OK: LIMIT, ResourceExhausted: 100 - LIMIT });
      // Locked: the right password is refused too, until the window ends.
      expect(await loginToken(c, user).then(() => "OK", codeOf)).toBe("ResourceExhausted");
    });

    it("50 parallel RefreshSession calls with one token yield exactly one successor pair", { timeout: 60_000 }, async () => {
      const user = await registerUser(c, "race-refresh");
      const s = await login(c, user);
      const results = await Promise.all(
        Array.from({ length: 50 }, () => c.session.refreshSession({ refreshToken: s.refreshToken }).then((r) => r, (e: unknown) => e)),
      );
      const ok = results.filter((r): r is Awaited<ReturnType<Clients["session"]["refreshSession"]>> => !(r instanceof Error));
      const failed = results.filter((r) => r instanceof Error).map(codeOf);
      // Within the grace every caller gets the SAME successor; none gets a second one.
      expect(new Set(ok.map((r) => r.tokens!.refreshToken)).size).toBe(1);
      expect(failed.filter((code) => code !== "Unauthenticated")).toEqual([]);
      expect(ok.length).toBeGreaterThan(0);
      const sessions = await c.session.listSessions({}, bearer(ok[0]!.tokens!.accessToken));
      expect(sessions.sessions.map((x) => x.sessionId)).toEqual([s.sessionId]);
    });

    it("parallel CreateSession calls with one login token create exactly one session", { timeout: 60_000 }, async () => {
      const user = await registerUser(c, "race-create");
      const token = await loginToken(c, user);
      const factor = await nextSecondFactor(user);
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          c.session.createSession({ loginToken: token, secondFactor: factor, deviceName: "race" }).then((r) => r, (e: unknown) => e),
        ),
      );
      const ok = results.filter((r): r is Awaited<ReturnType<Clients["session"]["createSession"]>> => !(r instanceof Error));
      expect(ok.length).toBe(1);
      expect(results.filter((r) => r instanceof Error).map(codeOf)).toEqual(Array(19).fill("Unauthenticated"));
      const sessions = await c.session.listSessions({}, bearer(ok[0]!.tokens!.accessToken));
      expect(sessions.sessions.length).toBe(1);
    });
  });
}
