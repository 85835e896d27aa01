/**
 * AccountService through two real Cypher servers (real public ports) sharing real PostgreSQL (a
 * fresh schema of TEST_DATABASE_URL) and a real Redis (a redis-server of this run's own), as two processes behind a load balancer: changes made on one instance are refused at once
 * on the other, and WatchRevocations (resumed from a cursor taken before) reports them. Also: the
 * service answers over Connect, gRPC and gRPC-Web on the public port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { IdentityMemHardFn } from "@cloudflare/opaque-ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, cypherClients, login, loginToken, nextSecondFactor, registerUser, type Clients, type User } from "../../bench/support/cypher-user.js";
import { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { silentLogger } from "../../server/logger.js";
import { openDatabase } from "../../server/storage/open-database.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { OwnRedis } from "./support/own-services.js";
import { changePassword } from "../support/account-fixture.js";

const databaseUrl = TEST_DATABASE_URL;
const codeOf = (e: unknown) => Code[ConnectError.from(e).code];

type Instance = Clients & {
  account: Client<typeof AccountService>;
  /** SessionService on the internal port, where backends follow revocations. */
  backend: Client<typeof SessionService>;
  server: CypherServer;
};

if (!databaseUrl) {
  describe.skip("AccountService on two instances (set TEST_DATABASE_URL to run)", () => {
    it("needs PostgreSQL (TEST_DATABASE_URL)", () => {});
  });
} else {
  describe("AccountService on two real instances sharing PostgreSQL and Redis", () => {
    let redis: OwnRedis;
    let schema: TestSchema;
    let dir: string;
    let a: Instance;
    let b: Instance;
    let db: ReturnType<typeof openDatabase>;

    const start = async (): Promise<Instance> => {
      const env = {
        PORT: "0", METRICS_PORT: "0",
        HOST: "127.0.0.1",
        GRPC_PORT: "0",
        // One DATA_DIR: the second instance reads the key material the first generated.
        DATA_DIR: dir,
        DATABASE_URL: schema.url,
        REDIS_URL: redis.url,
        OPAQUE_WORKER_THREADS: "1",
      };
      const server = await startCypherServer({ config: loadConfig(env), logger: silentLogger, env });
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` });
      const backend = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.grpcPort}` }));
      return { ...cypherClients(transport), account: createClient(AccountService, transport), backend, server };
    };

    beforeAll(async () => {
      // A redis-server of this run's own: the server's keys have no per-run prefix.
      redis = await OwnRedis.start();
      schema = await createTestSchema(databaseUrl);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-account-"));
      a = await start();
      b = await start();
      db = openDatabase({ kind: "postgres", url: schema.url });
    }, 60_000);

    afterAll(async () => {
      await db?.close();
      await a?.server.stop();
      await b?.server.stop();
      await schema?.drop();
      await redis?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const reauth = async (on: Instance, user: User, accessToken: string) =>
      (await on.account.reauthenticate({ loginToken: await loginToken(on, user), secondFactor: await nextSecondFactor(user) }, bearer(accessToken))).reauthToken;

    /** The cursor after everything revoked so far, from `on`'s WatchRevocations (internal port). */
    async function currentCursor(on: Instance): Promise<string> {
      const abort = new AbortController();
      try {
        for await (const item of on.backend.watchRevocations({ cursor: "" }, { signal: abort.signal })) {
          if (item.caughtUp) return item.cursor;
        }
      } finally {
        abort.abort();
      }
      throw new Error("the stream ended before catching up");
    }

    /** The session ids WatchRevocations on `on` reports after `cursor`, up to catching up. */
    async function revokedSince(on: Instance, cursor: string): Promise<string[]> {
      const abort = new AbortController();
      const ids: string[] = [];
      try {
        for await (const item of on.backend.watchRevocations({ cursor }, { signal: abort.signal })) {
          if (item.caughtUp) return ids;
          ids.push(...item.sessionIds);
        }
      } finally {
        abort.abort();
      }
      return ids;
    }

    it("a deleted account's sessions are refused on the other instance at once, WatchRevocations resumes with them, and the name is free", { timeout: 60_000 }, async () => {
      const user = await registerUser(a, `acct-del-${Date.now()}`);
      const onA = await login(a, user, "a");
      const onB = await login(b, user, "b");
      // Both sessions warm on B.
      await b.session.verifySession({ accessToken: onA.accessToken });
      await b.session.verifySession({ accessToken: onB.accessToken });
      const cursor = await currentCursor(b);

      const token = await reauth(a, user, onA.accessToken);
      const { id: userId } = await db.db.selectFrom("users").select("id").where("username", "=", user.username).executeTakeFirstOrThrow();
      expect(await db.db.selectFrom("device_credentials").select("user_id").where("user_id", "=", userId).execute()).not.toEqual([]);
      await a.account.deleteAccount({ reauthToken: token }, bearer(onA.accessToken));

      const reasonOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema).map((d) => d.reason);
      for (const s of [onA, onB]) {
        expect(await b.session.verifySession({ accessToken: s.accessToken }).then(() => "OK", codeOf)).toBe("Unauthenticated");
        expect(await b.account.getAccount({}, bearer(s.accessToken)).then(() => "OK", codeOf)).toBe("Unauthenticated");
        // As after a log-out.
        expect(await b.session.refreshSession({ refreshToken: s.refreshToken }).then(() => [], reasonOf)).toEqual(["TOKEN_REVOKED"]);
      }
      expect((await revokedSince(b, cursor)).sort()).toEqual([onA.sessionId, onB.sessionId].sort());
      // The password no longer logs in; the row and every secret are gone; the revoked sessions
      // stay for the feed, without their device names; the trail keeps the id, not the name.
      await expect(loginToken(b, user)).rejects.toThrow();
      expect(await db.db.selectFrom("users").select("id").where("id", "=", userId).execute()).toEqual([]);
      for (const table of ["recovery_codes", "device_credentials", "reauth_tokens"] as const) {
        expect(await db.db.selectFrom(table).select("user_id").where("user_id", "=", userId).execute()).toEqual([]);
      }
      const sessions = await db.db.selectFrom("sessions").select(["device_name", "revoked_reason"]).where("user_id", "=", userId).execute();
      expect(sessions).toEqual([
        { device_name: "", revoked_reason: "account_deleted" },
        { device_name: "", revoked_reason: "account_deleted" },
      ]);
      const audit = await db.db.selectFrom("audit_log").select(["event", "username"]).where("user_id", "=", userId).execute();
      expect(audit.map((e) => e.event)).toContain("account.deleted");
      expect(audit.every((e) => e.username === null)).toBe(true);
      // The old credentials are gone, and anyone may take the name (a new account, its own password).
      const again = await registerUser(b, user.username, "a different password");
      const s = await login(a, again);
      const { account } = await a.account.getAccount({}, bearer(s.accessToken));
      expect(account!.username).toBe(user.username);
    });

    it("a password change on one instance ends the other sessions everywhere; the old password is refused, the new works", { timeout: 60_000 }, async () => {
      const user = await registerUser(a, `acct-pw-${Date.now()}`);
      const mine = await login(a, user, "mine");
      const other = await login(b, user, "other");
      await b.session.verifySession({ accessToken: other.accessToken });
      const cursor = await currentCursor(a);

      const reauthToken = await reauth(b, user, mine.accessToken);
      const { serverIdentity } = loadConfig({});
      await changePassword(a.account, mine.accessToken, { reauthToken, username: user.username, newPassword: "brand new", serverIdentity, memHard: IdentityMemHardFn });

      expect(await b.session.verifySession({ accessToken: other.accessToken }).then(() => "OK", codeOf)).toBe("Unauthenticated");
      await b.session.verifySession({ accessToken: mine.accessToken });
      expect(await revokedSince(a, cursor)).toEqual([other.sessionId]);
      await expect(loginToken(b, user)).rejects.toThrow();
      await login(b, { ...user, password: "brand new" });
    });

    it("GetAccount answers over Connect, gRPC and gRPC-Web on the public port", { timeout: 60_000 }, async () => {
      const user = await registerUser(a, `acct-proto-${Date.now()}`);
      const s = await login(a, user);
      const baseUrl = `http://127.0.0.1:${b.server.port}`;
      const transports: Record<string, Transport> = {
        connect: createConnectTransport({ baseUrl, httpVersion: "1.1" }),
        grpc: createGrpcTransport({ baseUrl }),
        grpcWeb: createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
      };
      for (const [name, transport] of Object.entries(transports)) {
        const client = createClient(AccountService, transport);
        const { account } = await client.getAccount({}, bearer(s.accessToken));
        expect(account, name).toMatchObject({ username: user.username, recoveryCodesRemaining: 10 });
        expect(await client.getAccount({}).then(() => "OK", codeOf), name).toBe("Unauthenticated");
      }
    });
  });
}
