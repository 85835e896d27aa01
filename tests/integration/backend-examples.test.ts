/**
 * The example backends of examples/ against a real Cypher (startCypherServer, embedded storage,
 * GRPC_PORT=0), with accounts registered and logged in through the public port by the real OPAQUE
 * client: the online backend asks VerifySession on every request, the offline one verifies with
 * GetPublicKeys and follows WatchRevocations. Both refuse a session once it is logged out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { logIn, registerAccount, type Clients } from "../../bench/login-flow.js";
import { startOfflineBackend } from "../../examples/offline-backend.js";
import { startOnlineBackend } from "../../examples/online-backend.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { createLogger } from "../../server/logger.js";

async function get(port: number, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/hello`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the example backends against a running Cypher", () => {
  let dir: string;
  let server: CypherServer;
  let stopped = false;
  let clients: Clients;
  const logs: string[] = [];
  let online: Awaited<ReturnType<typeof startOnlineBackend>>;
  let offline: Awaited<ReturnType<typeof startOfflineBackend>>;
  let accountNumber = 0;

  async function newSession() {
    const account = await registerAccount(clients, `backend-${++accountNumber}-${process.pid}`, "correct horse battery staple");
    return logIn(clients, account, { deviceName: "example test" });
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-examples-"));
    const config = loadConfig({ PORT: "0", GRPC_PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir, OPAQUE_WORKER_THREADS: "1" });
    server = await startCypherServer({ config, logger: createLogger("info", (line) => logs.push(line)), env: {} });
    const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" });
    clients = { auth: createClient(AuthService, transport), session: createClient(SessionService, transport) };
    const cypherAddress = `127.0.0.1:${server.grpcPort}`;
    online = await startOnlineBackend({ cypherAddress });
    offline = await startOfflineBackend({ cypherAddress, maxStaleMs: 300 });
  });

  afterAll(async () => {
    await online?.close();
    await offline?.close();
    if (!stopped) await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("online: lets a live session in, refuses no token and a bad one, and refuses the session right after Logout", async () => {
    const s = await newSession();
    expect(await get(online.port, s.accessToken)).toEqual({
      status: 200,
      body: { hello: s.username, userId: s.userId, sessionId: s.sessionId, path: "/hello" },
    });
    expect((await get(online.port)).status).toBe(401);
    expect((await get(online.port, "v4.public.forged")).status).toBe(401);

    await clients.session.logout({}, { headers: { authorization: `Bearer ${s.accessToken}` } });
    expect(await get(online.port, s.accessToken)).toEqual({ status: 401, body: { error: "unauthenticated" } });
  });

  it("offline: verifies without calling Cypher per request, and refuses the session once the revocation arrives", async () => {
    await vi.waitFor(() => expect(offline.verifier.ready).toBe(true));
    const s = await newSession();
    logs.length = 0;
    for (let i = 0; i < 5; i++) expect(await get(offline.port, s.accessToken)).toMatchObject({ status: 200, body: { hello: s.username, sessionId: s.sessionId } });
    expect(logs.filter((l) => l.includes("VerifySession"))).toEqual([]);
    const tampered = s.accessToken.slice(0, 40) + (s.accessToken[40] === "x" ? "y" : "x") + s.accessToken.slice(41);
    expect((await get(offline.port, tampered)).status).toBe(401);

    await clients.session.logout({}, { headers: { authorization: `Bearer ${s.accessToken}` } });
    await vi.waitFor(async () => expect((await get(offline.port, s.accessToken)).status).toBe(401), { timeout: 2_000, interval: 10 });
  });

  it("WatchRevocations on the public port (Connect protocol over HTTP/1.1) tells a signed-in client of its own logout", async () => {
    await expect(
      (async () => {
        for await (const _ of clients.session.watchRevocations({})) break;
      })(),
    ).rejects.toMatchObject({ code: Code.Unauthenticated });

    const s = await newSession();
    const heard: string[] = [];
    let caughtUp = false;
    const following = (async () => {
      for await (const r of clients.session.watchRevocations({}, { headers: { authorization: `Bearer ${s.accessToken}` } })) {
        heard.push(...r.sessionIds);
        caughtUp ||= r.caughtUp;
      }
    })();
    await vi.waitFor(() => expect(caughtUp).toBe(true));
    await clients.session.logout({}, { headers: { authorization: `Bearer ${s.accessToken}` } });
    // The stream names the ended session, then ends: its credential no longer counts.
    await following;
    expect(heard).toEqual([s.sessionId]);
  });

  it("fails closed when Cypher goes away: the online backend at once, the offline one after maxStaleMs", async () => {
    const s = await newSession();
    expect((await get(online.port, s.accessToken)).status).toBe(200);
    expect((await get(offline.port, s.accessToken)).status).toBe(200);
    await server.stop();
    stopped = true;
    expect((await get(online.port, s.accessToken)).status).toBe(503);
    await vi.waitFor(async () => expect((await get(offline.port, s.accessToken)).status).toBe(503), { timeout: 3_000, interval: 50 });
  });
});
