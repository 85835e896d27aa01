/**
 * PostgreSQL restarted under a running Cypher: a private cluster (initdb in a temp dir, ~1 s; the
 * shared one is never touched), stopped in fast mode (open connections cut, as in a restart or a
 * failover) and started again. While it is down, calls that need it answer Unavailable (never
 * Internal, never a hang); once it is back they work again without restarting Cypher, and no
 * session is lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, cypherClients, login, registerUser, type Clients, type Tokens, type User } from "../../bench/support/cypher-user.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { silentLogger } from "../../server/logger.js";
import { GENEROUS_LIMITS } from "../hardening/support/hardening-server.js";
import { TEST_DATABASE_URL } from "../storage/postgres-test-schema.js";
import { OwnPostgres, postgresBinDir } from "./support/own-services.js";

const codeOf = (e: unknown) => (e === undefined ? "OK" : Code[ConnectError.from(e).code]);
const outcome = (call: Promise<unknown>) => call.then(() => "OK", (e: unknown) => codeOf(e));

if (!TEST_DATABASE_URL || !postgresBinDir()) {
  describe.skip("fault: PostgreSQL restarted (set TEST_DATABASE_URL and install the PostgreSQL server binaries to run)", () => {
    it("needs PostgreSQL (TEST_DATABASE_URL and the server binaries)", () => {});
  });
} else {
  describe("fault: PostgreSQL restarted", () => {
    let pg: OwnPostgres;
    let server: CypherServer;
    let dir: string;
    let c: Clients;
    let user: User;
    let session: Tokens;

    beforeAll(async () => {
      pg = await OwnPostgres.start();
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-fault-pg-"));
      const env = { PORT: "0", HOST: "127.0.0.1", GRPC_PORT: "off", METRICS_PORT: "0", DATA_DIR: dir, DATABASE_URL: pg.url, ...GENEROUS_LIMITS };
      server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env });
      c = cypherClients(createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }));
      user = await registerUser(c, "fault-pg");
      session = await login(c, user);
    }, 60_000);

    afterAll(async () => {
      await pg?.start().catch(() => undefined);
      await server?.stop();
      await pg?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("answers Unavailable while it is down and recovers without a restart", { timeout: 60_000 }, async () => {
      await pg.stop();

      // Every call that needs PostgreSQL: Unavailable, quickly.
      const t0 = Date.now();
      expect(await outcome(c.auth.registerFinish({ username: "fault-pg-new", registrationRecord: new Uint8Array([0x02, ...new Uint8Array(128)]) }))).toMatch(/Unavailable|InvalidArgument/);
      expect(await outcome(login(c, user))).toBe("Unavailable");
      expect(await outcome(c.session.listSessions({}, bearer(session.accessToken)))).toBe("Unavailable");
      expect(await outcome(c.session.refreshSession({ refreshToken: session.refreshToken }))).toBe("Unavailable");
      // VerifySession may still answer from the cache; it never answers anything but OK or Unavailable.
      expect(["OK", "Unavailable"]).toContain(await outcome(c.session.verifySession({ accessToken: session.accessToken })));
      expect(Date.now() - t0, "no call hangs on the dead database").toBeLessThan(20_000);
      // Health still answers (the process is up; storage reports through the calls).
      const health = await fetch(`http://127.0.0.1:${server.port}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
        body: "{}",
      });
      expect(health.status).toBe(200);

      await pg.start();
      // Recovery: the pool reconnects on its own. Give it a few attempts.
      const deadline = Date.now() + 15_000;
      let refreshed: Awaited<ReturnType<Clients["session"]["refreshSession"]>> | undefined;
      while (!refreshed && Date.now() < deadline) {
        refreshed = await c.session.refreshSession({ refreshToken: session.refreshToken }).catch(async () => {
          await new Promise((r) => setTimeout(r, 200));
          return undefined;
        });
      }
      expect(refreshed?.session?.sessionId, "the session survived the restart").toBe(session.sessionId);
      expect((await c.session.verifySession({ accessToken: refreshed!.tokens!.accessToken })).session?.sessionId).toBe(session.sessionId);
      const again = await login(c, user);
      expect((await c.session.listSessions({}, bearer(again.accessToken))).sessions.length).toBe(2);
    });
  });
}
