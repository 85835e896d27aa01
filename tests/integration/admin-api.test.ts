/**
 * AdminService over the real ports: two Cypher instances (startCypherServer) sharing PostgreSQL (a
 * fresh schema of TEST_DATABASE_URL), a private redis-server and their key material, as two
 * processes behind a load balancer would. Users register and log in through the public port with
 * the real OPAQUE client; the operator calls the internal port of instance A with a grpc-js client
 * built from gen/ (and connect's gRPC transport); sessions are checked on instance B.
 *
 * Covered: admin key checks (none, wrong, none configured), the public port refusing AdminService
 * over gRPC, gRPC-Web and Connect, LockUser (sessions refused on the other instance at once and
 * reported by WatchRevocations, refresh and pre-lock login tokens refused, a correct password
 * failing exactly as a wrong one, UnlockUser restoring it), RevokeUserSessions, DeleteUser (the
 * username free again, the sessions refused and still in the revocation feed, the secrets gone,
 * the audit trail without the username), GetUser, ListUsers and ListAuditEvents with their page
 * tokens, the audit entries naming the key by fingerprint, the key in no log line and no audit
 * row, and a README example run with the real `buf curl`.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { IdentityMemHardFn } from "@cloudflare/opaque-ts";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService, GetUserRequestSchema, UserState, type GetUserResponse } from "../../gen/cypher/admin/v1/admin_pb.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { cypherClients, login, loginToken, nextSecondFactor, registerUser, type Clients, type User } from "../../bench/support/cypher-user.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { grpcServiceDefinition } from "../../server/grpc/service-definition.js";
import { createLogger } from "../../server/logger.js";
import { openDatabase } from "../../server/storage/open-database.js";
import { createStaticAppHandler } from "../../server/web/static-app.js";
import { beginLogin } from "../rpc/auth-helpers.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../storage/postgres-test-schema.js";
import { OwnRedis } from "./support/own-services.js";

const execFileAsync = promisify(execFile);
const BUF = path.resolve("node_modules/.bin/buf");

const ADMIN_KEY = `adm-${randomBytes(24).toString("base64url")}`;
const OTHER_ADMIN_KEY = `adm-${randomBytes(24).toString("base64url")}`;
const fingerprint = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 8);

/** A plain grpc-js client of AdminService, from the generated descriptors. */
const RawAdminClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(AdminService), "AdminService");

function rawUnary<T>(client: grpc.Client, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...args: unknown[]) => void>)[method]!(request, metadata, (error: grpc.ServiceError | null, response: T) =>
      error ? reject(error) : resolve(response),
    );
  });
}

function withKey(key: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

const adminHeaders = (key = ADMIN_KEY) => ({ headers: { authorization: `Bearer ${key}` } });

async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

async function expectCode(call: Promise<unknown>, code: Code): Promise<ConnectError> {
  const error = await rpcError(call);
  expect(Code[error.code]).toBe(Code[code]);
  return error;
}

const violations = (error: ConnectError) => error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));

if (!TEST_DATABASE_URL) {
  describe.skip("AdminService over the real ports (set TEST_DATABASE_URL to run)", () => {
    it("needs PostgreSQL (TEST_DATABASE_URL)", () => {});
  });
} else {
  describe("AdminService over the real ports, two instances sharing PostgreSQL and Redis", () => {
    let redis: OwnRedis;
    let schema: TestSchema;
    let dir: string;
    let a: CypherServer;
    let b: CypherServer;
    let noKeys: CypherServer;
    const logs: string[] = [];
    let publicA: Clients;
    let publicB: Clients;
    let admin: Client<typeof AdminService>;
    let rawAdmin: grpc.Client;
    let sessionB: Client<typeof SessionService>;
    let db: ReturnType<typeof openDatabase>;
    const run = randomBytes(3).toString("hex");

    beforeAll(async () => {
      redis = await OwnRedis.start();
      schema = await createTestSchema(TEST_DATABASE_URL!);
      dir = mkdtempSync(path.join(os.tmpdir(), "cypher-admin-"));
      const env = {
        PORT: "0", METRICS_PORT: "0",
        GRPC_PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: dir,
        DATABASE_URL: schema.url,
        REDIS_URL: redis.url,
        ADMIN_API_KEYS: `${ADMIN_KEY},${OTHER_ADMIN_KEY}`,
        LOGIN_BACKOFF_BASE_MS: "0",
        LOGIN_MAX_ATTEMPTS_PER_IP: "100000",
        REGISTER_MAX_PER_IP: "100000",
      };
      // A's logs are kept (and searched for the key); A's public port has the web app's static
      // handler as its fallback, as main.ts gives it.
      a = await startCypherServer({
        config: loadConfig(env),
        logger: createLogger("debug", (line) => logs.push(line)),
        env,
        fallback: createStaticAppHandler({ distDir: path.join(dir, "no-web-build"), logger: createLogger("error", () => {}) }),
      });
      // Started after A: reads the key material A generated under DATA_DIR.
      b = await startCypherServer({ config: loadConfig(env), logger: createLogger("error", () => {}), env });
      const { ADMIN_API_KEYS: _, ...withoutKeys } = env;
      noKeys = await startCypherServer({ config: loadConfig(withoutKeys), logger: createLogger("error", () => {}), env: withoutKeys });

      publicA = cypherClients(createGrpcTransport({ baseUrl: `http://127.0.0.1:${a.port}` }));
      publicB = cypherClients(createGrpcTransport({ baseUrl: `http://127.0.0.1:${b.port}` }));
      admin = createClient(AdminService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${a.grpcPort}` }));
      rawAdmin = new RawAdminClient(`127.0.0.1:${a.grpcPort}`, grpc.credentials.createInsecure());
      sessionB = createClient(SessionService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${b.grpcPort}` }));
      db = openDatabase({ kind: "postgres", url: schema.url });
    }, 120_000);

    afterAll(async () => {
      rawAdmin?.close();
      await db?.close();
      for (const server of [a, b, noKeys]) await server?.stop();
      await redis?.stop();
      await schema?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const getUser = async (userId: string) => (await admin.getUser({ who: { case: "userId", value: userId } }, adminHeaders())).user!;
    const userIdOf = async (user: User) => (await admin.getUser({ who: { case: "username", value: user.username } }, adminHeaders())).user!.userId;

    it("refuses a call without a key, with a wrong or malformed one, and every call when no key is configured", async () => {
      const request = create(GetUserRequestSchema, { who: { case: "username", value: "nobody-here" } });
      const noKeysRaw = new RawAdminClient(`127.0.0.1:${noKeys.grpcPort}`, grpc.credentials.createInsecure());
      const refusals: Array<[string, grpc.Metadata, grpc.Client]> = [
        ["no header", new grpc.Metadata(), rawAdmin],
        ["a wrong key", withKey(`adm-${randomBytes(24).toString("base64url")}`), rawAdmin],
        ["a prefix of the key", withKey(ADMIN_KEY.slice(0, -1)), rawAdmin],
        ["the key with more after it", withKey(`${ADMIN_KEY}x`), rawAdmin],
        ["not a Bearer header", (() => {
          const m = new grpc.Metadata();
          m.set("authorization", `Basic ${ADMIN_KEY}`);
          return m;
        })(), rawAdmin],
        ["the right key on a server with none configured", withKey(ADMIN_KEY), noKeysRaw],
      ];
      for (const [what, metadata, client] of refusals) {
        const error = (await rawUnary(client, "getUser", request, metadata).then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        )) as grpc.ServiceError | undefined;
        expect(error, what).toBeDefined();
        expect(grpc.status[error!.code], what).toBe("UNAUTHENTICATED");
        expect(error!.details, what).toBe("authentication failed");
      }
      // The same through connect's gRPC transport: the reason is in ErrorInfo.
      const error = await expectCode(admin.getUser({ who: { case: "username", value: "nobody-here" } }), Code.Unauthenticated);
      expect(error.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["ADMIN_KEY_INVALID"]);
      // Every method is guarded, before its request is even looked at.
      await expectCode(admin.lockUser({ userId: "not-a-uuid" }, adminHeaders(OTHER_ADMIN_KEY.slice(1))), Code.Unauthenticated);
      await expectCode(admin.deleteUser({ userId: randomUUID() }), Code.Unauthenticated);
      await expectCode(admin.listUsers({}), Code.Unauthenticated);
      await expectCode(admin.listAuditEvents({}), Code.Unauthenticated);
      // Both configured keys work.
      for (const key of [ADMIN_KEY, OTHER_ADMIN_KEY]) {
        await expectCode(admin.getUser({ who: { case: "username", value: "nobody-here" } }, adminHeaders(key)), Code.NotFound);
      }
      noKeysRaw.close();
      const noKeysClient = createClient(AdminService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${noKeys.grpcPort}` }));
      await expectCode(noKeysClient.listUsers({}, adminHeaders()), Code.Unauthenticated);
    });

    it("is not served on the public port: Unimplemented over gRPC, gRPC-Web and Connect, and not listed by reflection", async () => {
      const baseUrl = `http://127.0.0.1:${a.port}`;
      const transports = [
        ["gRPC", createGrpcTransport({ baseUrl })],
        ["gRPC-Web", createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
        ["Connect (HTTP/1.1)", createConnectTransport({ baseUrl, httpVersion: "1.1" })],
        ["Connect (h2c)", createConnectTransport({ baseUrl, httpVersion: "2" })],
      ] as const;
      for (const [name, transport] of transports) {
        const client = createClient(AdminService, transport);
        for (const call of [
          () => client.getUser({ who: { case: "username", value: "alice" } }, adminHeaders()),
          () => client.deleteUser({ userId: randomUUID() }, adminHeaders()),
          () => client.listUsers({}),
        ]) {
          const error = await rpcError(call());
          expect(Code[error.code], name).toBe("Unimplemented");
        }
      }
      // A plain grpc-js client too, with the status in the trailers.
      const raw = new RawAdminClient(`127.0.0.1:${a.port}`, grpc.credentials.createInsecure());
      try {
        const error = (await rawUnary(raw, "listUsers", {}, withKey(ADMIN_KEY)).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
        expect(grpc.status[error.code]).toBe("UNIMPLEMENTED");
      } finally {
        raw.close();
      }
      // A plain Connect JSON POST: a Connect error body, not the web app's 404 page.
      const response = await fetch(`${baseUrl}/cypher.admin.v1.AdminService/ListUsers`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1", authorization: `Bearer ${ADMIN_KEY}` },
        body: "{}",
      });
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(((await response.json()) as { code: string }).code).toBe("unimplemented");

      const publicList = await execFileAsync(BUF, ["curl", "--list-services", "--protocol", "grpc", "--http2-prior-knowledge", baseUrl]);
      expect(publicList.stdout).not.toContain("cypher.admin.v1.AdminService");
      const internalList = await execFileAsync(BUF, ["curl", "--list-services", "--protocol", "grpc", "--http2-prior-knowledge", `http://127.0.0.1:${a.grpcPort}`]);
      expect(internalList.stdout).toContain("cypher.admin.v1.AdminService");
    });

    it("LockUser ends every session on the other instance at once, refuses refresh and pre-lock login tokens, and is reported by WatchRevocations", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `lock-${run}`);
      const first = await login(publicA, user, "laptop");
      const second = await login(publicB, user, "phone");
      const preLockLoginToken = await loginToken(publicA, user);
      const userId = await userIdOf(user);
      // B knows both sessions (cached).
      for (const s of [first, second]) await expect(sessionB.verifySession({ accessToken: s.accessToken })).resolves.toBeDefined();
      expect((await getUser(userId)).activeSessions).toBe(2);

      // B's WatchRevocations, caught up before the lock.
      const watch = new AbortController();
      const seen: string[] = [];
      const stream = sessionB.watchRevocations({ cursor: "" }, { signal: watch.signal })[Symbol.asyncIterator]();
      while (!(await stream.next()).value?.caughtUp) {
        // catching up
      }

      const locked = await admin.lockUser({ userId, reason: "credential stuffing from 198.51.100.0/24" }, adminHeaders());
      expect(locked.revokedSessions).toBe(2);
      // From the moment LockUser returned, B refuses both sessions.
      for (const s of [first, second]) {
        const error = await expectCode(sessionB.verifySession({ accessToken: s.accessToken }), Code.Unauthenticated);
        expect(error.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["TOKEN_REVOKED"]);
        await expectCode(publicB.session.refreshSession({ refreshToken: s.refreshToken }), Code.Unauthenticated);
      }
      while (seen.length < 2) {
        const next = await stream.next();
        if (next.done) break;
        seen.push(...next.value.sessionIds);
      }
      watch.abort();
      expect(seen.sort()).toEqual([first.sessionId, second.sessionId].sort());

      // A login token issued before the lock no longer makes a session.
      await expectCode(
        publicB.session.createSession({ loginToken: preLockLoginToken, secondFactor: await nextSecondFactor(user), deviceName: "late" }),
        Code.Unauthenticated,
      );

      const shown = await getUser(userId);
      expect(shown.state).toBe(UserState.LOCKED);
      expect(shown.activeSessions).toBe(0);
      expect(shown.lockReason).toBe("credential stuffing from 198.51.100.0/24");
      expect(shown.lockedAt).toBeDefined();

      await admin.unlockUser({ userId }, adminHeaders());
      expect((await getUser(userId)).state).toBe(UserState.ACTIVE);
      const again = await login(publicB, user, "after unlock");
      await expect(sessionB.verifySession({ accessToken: again.accessToken })).resolves.toBeDefined();
      // Unlocking an account that is not locked changes nothing.
      await admin.unlockUser({ userId }, adminHeaders());
    });

    it("a locked account's correct password fails exactly as a wrong password does, and works again after UnlockUser", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `pw-${run}`);
      const other = await registerUser(publicA, `pw-other-${run}`);
      const userId = await userIdOf(user);
      const auth = createClient(AuthService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${b.port}` }));
      const options = { memHard: IdentityMemHardFn };

      const before = await beginLogin(auth, user.username, user.password, options);
      expect(before.ok).toBe(true);

      await admin.lockUser({ userId, reason: "" }, adminHeaders());
      // LoginInit answers as for any account; only the client finds that its envelope does not open.
      const locked = await beginLogin(auth, user.username, user.password, options);
      const wrongPassword = await beginLogin(auth, other.username, "not the password", options);
      for (const attempt of [locked, wrongPassword]) {
        expect(attempt.ok).toBe(false);
        expect(attempt.ke2).toHaveLength(259);
      }
      if (locked.ok || wrongPassword.ok) return;
      expect(locked.clientError.name).toBe(wrongPassword.clientError.name);
      expect(locked.clientError.message).toBe(wrongPassword.clientError.message);
      // And a made-up KE3 at LoginFinish is refused the same way for both.
      for (const attempt of [locked, wrongPassword]) {
        const error = await expectCode(auth.loginFinish({ loginId: attempt.loginId, ke3: new Uint8Array(32) }), Code.Unauthenticated);
        expect(error.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["LOGIN_FAILED"]);
      }

      await admin.unlockUser({ userId }, adminHeaders());
      const after = await beginLogin(auth, user.username, user.password, options);
      expect(after.ok).toBe(true);
      await expect(loginToken(publicB, user)).resolves.toMatch(/^v4\.public\./);
    });

    it("RevokeUserSessions logs the account out everywhere without locking it", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `revoke-${run}`);
      const s1 = await login(publicA, user);
      const s2 = await login(publicB, user);
      const userId = await userIdOf(user);
      const { revoked } = await admin.revokeUserSessions({ userId }, adminHeaders());
      expect(revoked).toBe(2);
      for (const s of [s1, s2]) await expectCode(sessionB.verifySession({ accessToken: s.accessToken }), Code.Unauthenticated);
      expect((await admin.revokeUserSessions({ userId }, adminHeaders())).revoked).toBe(0);
      expect((await getUser(userId)).state).toBe(UserState.ACTIVE);
      await expect(login(publicA, user)).resolves.toBeDefined();
    });

    it("DeleteUser ends the sessions (still reported to a resuming watcher), removes the secrets, keeps the trail without the username, and frees the username", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `delete-${run}`);
      const s = await login(publicA, user, "laptop");
      const userId = await userIdOf(user);
      await sessionB.verifySession({ accessToken: s.accessToken });
      // A backend's resume point from before the deletion.
      let cursor = "";
      for await (const response of sessionB.watchRevocations({ cursor: "" })) {
        if (response.caughtUp) {
          cursor = response.cursor;
          break;
        }
      }

      expect(await db.db.selectFrom("device_credentials").select("user_id").where("user_id", "=", userId).execute()).not.toEqual([]);
      await admin.deleteUser({ userId }, adminHeaders());

      const refused = await expectCode(sessionB.verifySession({ accessToken: s.accessToken }), Code.Unauthenticated);
      expect(refused.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["TOKEN_REVOKED"]);
      // As after a log-out.
      const refreshRefused = await expectCode(publicB.session.refreshSession({ refreshToken: s.refreshToken }), Code.Unauthenticated);
      expect(refreshRefused.findDetails(ErrorInfoSchema).map((d) => d.reason)).toEqual(["TOKEN_REVOKED"]);
      await expectCode(admin.getUser({ who: { case: "userId", value: userId } }, adminHeaders()), Code.NotFound);
      await expectCode(admin.getUser({ who: { case: "username", value: user.username } }, adminHeaders()), Code.NotFound);
      await expectCode(admin.deleteUser({ userId }, adminHeaders()), Code.NotFound);
      // The password no longer logs in (the name is unknown now).
      await expect(loginToken(publicA, user)).rejects.toThrow();

      // Resuming from before the deletion still hears of its session.
      const resumed: string[] = [];
      for await (const response of sessionB.watchRevocations({ cursor })) {
        resumed.push(...response.sessionIds);
        if (response.caughtUp) break;
      }
      expect(resumed).toContain(s.sessionId);

      // The row and every secret gone (OPAQUE record and TOTP secrets with the row, recovery codes,
      // device credentials, reauth tokens); the revoked session row stays, without its device name,
      // for the feed.
      expect(await db.db.selectFrom("users").select("id").where("id", "=", userId).execute()).toEqual([]);
      for (const table of ["recovery_codes", "device_credentials", "reauth_tokens", "account_locks"] as const) {
        expect(await db.db.selectFrom(table).select("user_id").where("user_id", "=", userId).execute()).toEqual([]);
      }
      const row = await db.db.selectFrom("sessions").select(["device_name", "revoked_reason"]).where("id", "=", s.sessionId).executeTakeFirstOrThrow();
      expect(row).toEqual({ device_name: "", revoked_reason: "account_deleted" });

      // The trail keeps the user id, not the username.
      const { events } = await admin.listAuditEvents({ userId, pageSize: 100 }, adminHeaders());
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["account.registered", "session.created", "account.deleted"]));
      expect(events.every((e) => e.userId === userId && e.username === "")).toBe(true);
      const deleted = events.find((e) => e.type === "account.deleted")!;
      expect(deleted.details).toMatchObject({ by: "operator", operator: fingerprint(ADMIN_KEY), sessions_ended: 1 });
      expect(deleted.clientAddress).toBe("127.0.0.1");

      // The username can be registered again, as a new account.
      const reborn = await registerUser(publicB, user.username);
      const newId = await userIdOf(reborn);
      expect(newId).not.toBe(userId);
      await expect(login(publicA, reborn)).resolves.toBeDefined();
    });

    it("GetUser by id and by username; NotFound; InvalidArgument with BadRequest for malformed input", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `Get-${run}`);
      await login(publicA, user);
      const byName = (await admin.getUser({ who: { case: "username", value: user.username.toUpperCase() } }, adminHeaders())).user!;
      expect(byName).toMatchObject({ username: user.username.toLowerCase(), state: UserState.ACTIVE, activeSessions: 1 });
      expect(byName.userId).toMatch(/^[0-9a-f-]{36}$/);
      const byId = (await admin.getUser({ who: { case: "userId", value: byName.userId.toUpperCase() } }, adminHeaders())).user!;
      expect(byId).toEqual(byName);
      expect(byId.createdAt).toBeDefined();
      expect(byId.passwordChangedAt).toEqual(byId.createdAt);

      await expectCode(admin.getUser({ who: { case: "userId", value: randomUUID() } }, adminHeaders()), Code.NotFound);
      await expectCode(admin.getUser({ who: { case: "username", value: `nobody-${run}` } }, adminHeaders()), Code.NotFound);
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => admin.getUser({ who: { case: "userId", value: "12345" } }, adminHeaders()), "user_id"],
        [() => admin.getUser({ who: { case: "username", value: "a b" } }, adminHeaders()), "username"],
        [() => admin.getUser({}, adminHeaders()), "who"],
        [() => admin.lockUser({ userId: "not-a-uuid" }, adminHeaders()), "user_id"],
        [() => admin.lockUser({ userId: byId.userId, reason: "x".repeat(501) }, adminHeaders()), "reason"],
        [() => admin.lockUser({ userId: byId.userId, reason: "stuffing\u0000from a botnet" }, adminHeaders()), "reason"],
        [() => admin.lockUser({ userId: byId.userId, reason: "\u202Eten-tob" }, adminHeaders()), "reason"],
        [() => admin.unlockUser({ userId: "" }, adminHeaders()), "user_id"],
        [() => admin.revokeUserSessions({ userId: "x" }, adminHeaders()), "user_id"],
        [() => admin.deleteUser({ userId: "'; drop table users; --" }, adminHeaders()), "user_id"],
        [() => admin.listAuditEvents({ userId: "nope" }, adminHeaders()), "user_id"],
        [() => admin.listUsers({ usernamePrefix: "bad prefix!" }, adminHeaders()), "username_prefix"],
      ];
      for (const [call, field] of cases) {
        const error = await expectCode(call(), Code.InvalidArgument);
        expect(violations(error)).toEqual([field]);
      }
      // Made one at a time: a call answered before it is awaited would be an unhandled rejection.
      for (const call of [() => admin.lockUser({ userId: randomUUID() }, adminHeaders()), () => admin.unlockUser({ userId: randomUUID() }, adminHeaders()), () => admin.revokeUserSessions({ userId: randomUUID() }, adminHeaders())]) {
        await expectCode(call(), Code.NotFound);
      }
      // A plain grpc-js client gets the same.
      const found = await rawUnary<GetUserResponse>(rawAdmin, "getUser", create(GetUserRequestSchema, { who: { case: "userId", value: byId.userId } }), withKey(ADMIN_KEY));
      expect(found.user?.username).toBe(byId.username);
    });

    it("ListUsers pages by username with opaque page tokens; a bad token or page size is InvalidArgument", { timeout: 60_000 }, async () => {
      const prefix = `pg${run}-`;
      const now = new Date();
      const names = Array.from({ length: 105 }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);
      await db.db
        .insertInto("users")
        .values(names.map((username) => ({ username, status: "active" as const, opaque_record: new Uint8Array(129), created_at: now, activated_at: now })))
        .execute();

      const collected: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await admin.listUsers({ pageSize: 40, pageToken, usernamePrefix: prefix.toUpperCase() }, adminHeaders());
        expect(page.users.length).toBeLessThanOrEqual(40);
        collected.push(...page.users.map((u) => u.username));
        pageToken = page.nextPageToken;
        pages += 1;
      } while (pageToken !== "");
      expect(pages).toBe(3);
      expect(collected).toEqual(names);

      // 0 means 50; above 100 is capped at 100.
      expect((await admin.listUsers({ usernamePrefix: prefix }, adminHeaders())).users).toHaveLength(50);
      const capped = await admin.listUsers({ pageSize: 1000, usernamePrefix: prefix }, adminHeaders());
      expect(capped.users).toHaveLength(100);
      expect(capped.nextPageToken).not.toBe("");

      const first = await admin.listUsers({ pageSize: 2, usernamePrefix: prefix }, adminHeaders());
      const token = first.nextPageToken;
      const [body, mac] = token.split(".");
      const forged = Buffer.from(JSON.stringify({ l: "users", f: prefix, p: names[100] })).toString("base64url");
      const bad: Array<[string, Record<string, unknown>]> = [
        ["garbage", { pageToken: "garbage", usernamePrefix: prefix }],
        ["a forged payload with the old MAC", { pageToken: `${forged}.${mac}`, usernamePrefix: prefix }],
        ["a changed MAC", { pageToken: `${body}.${mac!.startsWith("A") ? "B" : "A"}${mac!.slice(1)}`, usernamePrefix: prefix }],
        ["a token cut short", { pageToken: token.slice(0, -3), usernamePrefix: prefix }],
        ["a different filter", { pageToken: token, usernamePrefix: `${prefix}0` }],
      ];
      for (const [what, request] of bad) {
        const error = await expectCode(admin.listUsers(request, adminHeaders()), Code.InvalidArgument);
        expect(violations(error), what).toEqual(["page_token"]);
      }
      const negative = await expectCode(admin.listUsers({ pageSize: -1 }, adminHeaders()), Code.InvalidArgument);
      expect(violations(negative)).toEqual(["page_size"]);
      // A token of another list.
      await expectCode(admin.listAuditEvents({ pageToken: token }, adminHeaders()), Code.InvalidArgument);
      // Every instance accepts every instance's tokens (the key comes from the shared key material).
      const adminB = createClient(AdminService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${b.grpcPort}` }));
      const next = await adminB.listUsers({ pageSize: 2, pageToken: token, usernamePrefix: prefix }, adminHeaders());
      expect(next.users.map((u) => u.username)).toEqual(names.slice(2, 4));
    });

    it("ListAuditEvents pages newest first; every admin action is audited with the key's fingerprint, and the key is in no log and no audit row", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `audit-${run}`);
      await login(publicA, user);
      const userId = await userIdOf(user);
      await admin.lockUser({ userId, reason: "looking" }, adminHeaders(OTHER_ADMIN_KEY));
      await admin.unlockUser({ userId }, adminHeaders());
      await admin.revokeUserSessions({ userId }, adminHeaders());

      const all: Array<{ id: bigint; type: string; details: unknown }> = [];
      let pageToken = "";
      do {
        const page = await admin.listAuditEvents({ userId, pageSize: 2, pageToken }, adminHeaders());
        expect(page.events.length).toBeLessThanOrEqual(2);
        all.push(...page.events.map((e) => ({ id: BigInt(e.eventId), type: e.type, details: e.details })));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((x, y) => (x < y ? 1 : x > y ? -1 : 0)));
      const types = all.map((e) => e.type);
      expect(types.slice(0, 4)).toEqual(["admin.user_sessions_revoked", "admin.user_unlocked", "admin.user_locked", "admin.user_viewed"]);
      expect(types).toEqual(expect.arrayContaining(["account.registered", "enrollment.confirmed", "login.succeeded", "session.created"]));
      expect(all.find((e) => e.type === "admin.user_locked")!.details).toMatchObject({ by: "operator", operator: fingerprint(OTHER_ADMIN_KEY), reason: "looking", sessions_ended: 1 });
      expect(all.find((e) => e.type === "admin.user_unlocked")!.details).toMatchObject({ operator: fingerprint(ADMIN_KEY), was_locked: true });

      // The reads of this test were audited too (after it made them).
      const latest = await admin.listAuditEvents({ pageSize: 1 }, adminHeaders());
      expect(latest.events[0]).toMatchObject({ type: "admin.audit_events_listed", userId, details: { operator: fingerprint(ADMIN_KEY) } });

      const rows = await db.db.selectFrom("audit_log").selectAll().execute();
      const everything = JSON.stringify(rows) + logs.join("\n");
      for (const key of [ADMIN_KEY, OTHER_ADMIN_KEY]) {
        expect(everything).not.toContain(key);
        expect(everything).not.toContain(key.slice(4, 24));
      }
      // A's start-up log names the keys by fingerprint only.
      expect(logs.join("\n")).toContain(fingerprint(ADMIN_KEY));
    });

    it("answers the README's `buf curl` examples on the internal port, by reflection", { timeout: 60_000 }, async () => {
      const user = await registerUser(publicA, `curl-${run}`);
      await login(publicA, user);
      const url = `http://127.0.0.1:${a.grpcPort}/cypher.admin.v1.AdminService`;
      const curl = (method: string, body: unknown) =>
        execFileAsync(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", `authorization: Bearer ${ADMIN_KEY}`, "-d", JSON.stringify(body), `${url}/${method}`]);
      const got = JSON.parse((await curl("GetUser", { username: user.username })).stdout) as { user: { userId: string; username: string; state: string; activeSessions: number } };
      expect(got.user).toMatchObject({ username: user.username, state: "USER_STATE_ACTIVE", activeSessions: 1 });
      const userId = got.user.userId;
      const listed = JSON.parse((await curl("ListUsers", { pageSize: 10, usernamePrefix: `curl-${run}` })).stdout) as { users: Array<{ userId: string }> };
      expect(listed.users.map((u) => u.userId)).toEqual([userId]);
      expect(JSON.parse((await curl("LockUser", { userId, reason: "suspected takeover" })).stdout)).toEqual({ revokedSessions: 1 });
      expect(JSON.parse((await curl("UnlockUser", { userId })).stdout)).toEqual({});
      expect(JSON.parse((await curl("RevokeUserSessions", { userId })).stdout)).toEqual({});
      const audit = JSON.parse((await curl("ListAuditEvents", { userId, pageSize: 20 })).stdout) as { events: Array<{ type: string }> };
      expect(audit.events.map((e) => e.type)).toContain("admin.user_locked");
      expect(JSON.parse((await curl("DeleteUser", { userId })).stdout)).toEqual({});
      // Without the header: refused.
      const refused = await execFileAsync(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d", "{}", `${url}/ListUsers`]).catch((e: { stderr: string }) => e);
      expect((refused as { stderr: string }).stderr).toContain("unauthenticated");
    });
  });
}
