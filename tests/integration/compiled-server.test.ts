/**
 * What `npm start` runs: the server compiled by server/build-server.ts, started with no
 * configuration but a data folder (embedded PostgreSQL, in-process state). It must find its worker
 * threads and the web app from dist/ as it does from the sources, serve both ports, and stop
 * cleanly on SIGTERM.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cypherClients, login, registerUser } from "../../bench/support/cypher-user.js";
import { startServerProcess, type ServerProcess } from "../../bench/support/server-process.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { buildServer } from "../../server/build-server.js";
import { PROJECT_ROOT } from "../../server/project-root.js";
import { embeddedTemplatePath } from "../../server/storage/embedded-template.js";

describe("the compiled server (npm start), embedded defaults", () => {
  let build: string;
  let dataDir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    build = (await buildServer({ outDir: path.join(PROJECT_ROOT, ".build", `compiled-server-${process.pid}`) })).outDir;
    dataDir = mkdtempSync(path.join(os.tmpdir(), "cypher-compiled-"));
    server = await startServerProcess({ DATA_DIR: dataDir, GRPC_PORT: "0" }, { entry: path.join(build, "server", "main.js") });
  }, 60_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (build) rmSync(build, { recursive: true, force: true });
  });

  it("finds the embedded-database template where the sources do (else every first start runs initdb)", async () => {
    const compiled = (await import(path.join(build, "server", "storage", "embedded-template.js"))) as typeof import("../../server/storage/embedded-template.js");
    expect(compiled.embeddedTemplatePath()).toBe(embeddedTemplatePath());
  });

  it("serves the web app, a whole registration and login (OPAQUE on worker threads), and the internal port; exits 0 on SIGTERM", { timeout: 60_000 }, async () => {
    const page = await fetch(`${server.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<!doctype html>");

    // The worker threads (OPAQUE, token signatures) load .mjs files copied beside the compiled code.
    const clients = cypherClients(createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
    const user = await registerUser(clients, "compiled-user");
    const tokens = await login(clients, user);

    const internal = server.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "listening" && l.listener === "internal");
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${internal!.port as number}` });
    expect((await createClient(Health, transport).check({})).status).toBe(ServingStatus.SERVING);
    const verified = await cypherClients(transport).session.verifySession({ accessToken: tokens.accessToken });
    expect(verified.session?.username).toBe("compiled-user");

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });
});
