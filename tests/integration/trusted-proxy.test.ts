/**
 * TRUST_PROXY over the real transport, with the real AuthService: the client address is the last
 * X-Forwarded-For hop our proxy wrote, so a client cannot escape the per-IP LoginInit limit by
 * writing addresses of its own in front of it, and a header that is not an address never reaches
 * the limits, the log or the audit trail.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { loadConfig } from "../../server/config.js";
import { startCypherServer, type CypherServer } from "../../server/cypher-server.js";
import { createLogger } from "../../server/logger.js";
import { openDatabase } from "../../server/storage/open-database.js";
import { someKe1 } from "../rpc/auth-helpers.js";

const MAX_PER_IP = 4;

describe("TRUST_PROXY=1 (one proxy in front)", () => {
  let dir: string;
  let server: CypherServer;
  let client: Client<typeof AuthService>;
  let ke1: Uint8Array;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cypher-trust-proxy-"));
    const env = {
      PORT: "0", METRICS_PORT: "0",
      HOST: "127.0.0.1",
      GRPC_PORT: "off",
      DATA_DIR: dir,
      TRUST_PROXY: "1",
      LOGIN_MAX_ATTEMPTS_PER_IP: String(MAX_PER_IP),
      LOGIN_MAX_FAILURES_PER_USERNAME: "2",
      LOGIN_BACKOFF_BASE_MS: "0",
      OPAQUE_WORKER_THREADS: "1",
    };
    server = await startCypherServer({ config: loadConfig(env), logger: createLogger("info", (line) => logs.push(line)), env });
    client = createClient(AuthService, createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" }));
    ke1 = await someKe1();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const loginInit = (username: string, forwardedFor: string) => client.loginInit({ username, ke1 }, { headers: { "x-forwarded-for": forwardedFor } });
  const codeOf = (call: Promise<unknown>) => call.then(() => "ok", (e: unknown) => Code[ConnectError.from(e).code]);

  it("counts every request against the last hop, whatever the client wrote before it", async () => {
    const outcomes: string[] = [];
    for (let n = 1; n <= MAX_PER_IP + 3; n++) outcomes.push(await codeOf(loginInit(`probe${n}`, `198.51.100.${n}, 203.0.113.50`)));
    expect(outcomes).toEqual([...Array(MAX_PER_IP).fill("ok"), ...Array(3).fill("ResourceExhausted")]);
    // Another client behind the same proxy still gets in: the limit is that client's, not everyone's.
    expect(await codeOf(loginInit("other", "203.0.113.51"))).toBe("ok");
    const peers = logs.filter((l) => l.includes('"msg":"rpc"') && l.includes("LoginInit")).map((l) => (JSON.parse(l) as { peer: string }).peer);
    expect(new Set(peers)).toEqual(new Set(["203.0.113.50", "203.0.113.51"]));
  });

  it("never takes a non-address for the peer: the log and the audit trail show the socket's address", async () => {
    const markup = "<script>alert(1)</script>";
    // Three attempts on one name with a limit of two: the third locks it out, which is audited with the client's address.
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await codeOf(loginInit("lockme", markup)));
    expect(outcomes).toEqual(["ok", "ok", "ResourceExhausted"]);
    expect(logs.filter((l) => l.includes("script"))).toEqual([]);
    const peers = logs.filter((l) => l.includes('"msg":"rpc"') && l.includes("LoginInit")).map((l) => (JSON.parse(l) as { peer: string }).peer);
    expect(peers.slice(-3)).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.1"]);

    await server.stop();
    const database = openDatabase({ kind: "embedded", dataDir: path.join(dir, "pgdata") });
    try {
      const audited = await database.db.selectFrom("audit_log").select(["event", "ip", "username"]).where("event", "=", "login.locked_out").execute();
      expect(audited).toEqual([{ event: "login.locked_out", ip: "127.0.0.1", username: "lockme" }]);
    } finally {
      await database.close();
    }
  });
});
