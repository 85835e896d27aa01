/**
 * The process itself: the server compiled as `npm start` runs it (server/build-server.ts), as a
 * child (PostgreSQL: a fresh schema of TEST_DATABASE_URL).
 *  - SIGTERM under load: calls in flight finish, new ones are refused cleanly (Unavailable: the
 *    port is closed or the stream refused), and the process exits 0.
 *  - SIGKILL during RefreshSession: after a restart the user still has a working session, through
 *    the old refresh token (not yet rotated, or rotated and answered again within the grace) —
 *    never neither.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cypherClients, login, registerUser, type User } from "../../bench/support/cypher-user.js";
import { startServerProcess, type ServerProcess } from "../../bench/support/server-process.js";
import { buildServer } from "../../server/build-server.js";
import { PROJECT_ROOT } from "../../server/project-root.js";
import { validPoint } from "../hardening/support/malformed-arbitraries.js";
import { GENEROUS_LIMITS } from "../hardening/support/hardening-server.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";

const codeOf = (e: unknown) => (e === undefined ? "OK" : Code[ConnectError.from(e).code]);

/** A KE1 whose two points are on the curve, so LoginInit does its full OPAQUE work. */
function someKe1(): Uint8Array {
  return new Uint8Array([...validPoint(), ...new Uint8Array(32).fill(7), ...validPoint()]);
}

if (!TEST_DATABASE_URL) {
  describe.skip("fault: the server process (set TEST_DATABASE_URL to run)", () => {
    it("needs PostgreSQL (TEST_DATABASE_URL)", () => {});
  });
} else {
  describe("fault: the server process", () => {
    let schema: TestSchema;
    let dir: string;
    let env: Record<string, string>;
    let build: string;
    const children: ServerProcess[] = [];
    const start = async () => {
      const p = await startServerProcess(env, { entry: path.join(build, "server", "main.js") });
      children.push(p);
      return p;
    };

    beforeAll(async () => {
      schema = await createTestSchema(TEST_DATABASE_URL!);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-fault-process-"));
      build = (await buildServer({ outDir: path.join(PROJECT_ROOT, ".build", `fault-process-${process.pid}`) })).outDir;
      env = { DATA_DIR: dir, DATABASE_URL: schema.url, LOG_LEVEL: "info", SHUTDOWN_GRACE_MS: "10000", OPAQUE_WORKER_THREADS: "1", ...GENEROUS_LIMITS };
    });

    afterAll(async () => {
      for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await schema?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (build) rmSync(build, { recursive: true, force: true });
    });

    it("SIGTERM under load: calls in flight finish, new ones are refused cleanly, exit code 0", { timeout: 60_000 }, async () => {
      const p = await start();
      const grpc = cypherClients(createGrpcTransport({ baseUrl: p.baseUrl }));
      const connect = cypherClients(createConnectTransport({ baseUrl: p.baseUrl, httpVersion: "1.1" }));
      const user = await registerUser(connect, "fault-term");
      const s = await login(connect, user);

      const served = (method: string) => p.lines.filter((l) => l.includes('"msg":"rpc"') && l.includes(method)).length;
      const verifiesBefore = served("SessionService/VerifySession");
      const loginInitsBefore = served("AuthService/LoginInit");

      // In flight: LoginInits queued on the single OPAQUE thread and VerifySessions.
      const inFlight = [
        ...Array.from({ length: 6 }, () => grpc.auth.loginInit({ username: user.username, ke1: someKe1() })),
        ...Array.from({ length: 20 }, () => connect.session.verifySession({ accessToken: s.accessToken })),
      ].map((call) => call.then(() => undefined, (e: unknown) => e));
      // SIGTERM once the server has provably got the load, not after a guessed delay (on a busy machine
      // a call may still be connecting, i.e. not in flight yet): every VerifySession served and the
      // first LoginInit finished, so the other five are queued on the one OPAQUE thread, in flight.
      await vi.waitFor(
        () => {
          expect(served("SessionService/VerifySession") - verifiesBefore).toBe(20);
          expect(served("AuthService/LoginInit") - loginInitsBefore).toBeGreaterThanOrEqual(1);
        },
        { timeout: 20_000, interval: 5 },
      );
      expect(served("AuthService/LoginInit") - loginInitsBefore, "LoginInits still queued at SIGTERM").toBeLessThan(6);
      p.child.kill("SIGTERM");

      const results = (await Promise.all(inFlight)).map(codeOf);
      expect(results, "every call in flight at SIGTERM finishes").toEqual(results.map(() => "OK"));

      // New calls after the signal: refused, never Internal or Unknown.
      await new Promise((r) => setTimeout(r, 50));
      const late = codeOf(await connect.session.verifySession({ accessToken: s.accessToken }).then(() => undefined, (e: unknown) => e));
      expect(["Unavailable"]).toContain(late);
      expect(await p.exited).toBe(0);
      expect(p.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    });

    for (const delayMs of [0, 3, 8]) {
      it(`SIGKILL ${delayMs} ms into RefreshSession: after a restart the user still has a working session`, { timeout: 60_000 }, async () => {
        let p = await start();
        let c = cypherClients(createConnectTransport({ baseUrl: p.baseUrl, httpVersion: "1.1" }));
        const user: User = await registerUser(c, `fault-kill-${delayMs}`);
        const s = await login(c, user);

        const refresh = c.session.refreshSession({ refreshToken: s.refreshToken }).then((r) => r, () => undefined);
        await new Promise((r) => setTimeout(r, delayMs));
        p.child.kill("SIGKILL");
        const answered = await refresh; // usually lost with the process; if not, it is a valid pair
        expect(await p.exited).toBe("SIGKILL");

        p = await start();
        c = cypherClients(createConnectTransport({ baseUrl: p.baseUrl, httpVersion: "1.1" }));
        // The client retries with what it holds: the new pair if the answer arrived, else the old token.
        const retried = await c.session.refreshSession({ refreshToken: answered?.tokens?.refreshToken ?? s.refreshToken });
        expect(retried.session?.sessionId).toBe(s.sessionId);
        const verified = await c.session.verifySession({ accessToken: retried.tokens!.accessToken });
        expect(verified.session?.sessionId).toBe(s.sessionId);
        // And the pair it now holds keeps working.
        const next = await c.session.refreshSession({ refreshToken: retried.tokens!.refreshToken });
        expect(next.session?.sessionId).toBe(s.sessionId);
        p.child.kill("SIGTERM");
        expect(await p.exited).toBe(0);
      });
    }
  });
}
