/**
 * A real Cypher (PGlite, in-process KV, generated keys) with the freshly built web app, on a free
 * port, for end-to-end tests and the screenshot script.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildWebApp } from "../../../web/build.js";
import { loadConfig } from "../../../server/config.js";
import { startCypherServer, type CypherServer } from "../../../server/cypher-server.js";
import { silentLogger } from "../../../server/logger.js";
import { createStaticAppHandler } from "../../../server/web/static-app.js";

export interface AppServer {
  server: CypherServer;
  /** http://localhost:PORT: a secure context for Chromium (Web Locks, Secure cookies) over plain HTTP. */
  baseUrl: string;
  stop(): Promise<void>;
}

export async function startAppServer(env: Record<string, string> = {}): Promise<AppServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cypher-e2e-"));
  const distDir = path.join(dir, "dist");
  await buildWebApp({ outDir: distDir });
  const serverEnv = {
    PORT: "0",
    GRPC_PORT: "off",
    METRICS_PORT: "0",
    DATA_DIR: path.join(dir, "data"),
    LOG_LEVEL: "error",
    ...env,
  };
  const config = loadConfig(serverEnv);
  const server = await startCypherServer({
    config,
    logger: silentLogger,
    env: serverEnv,
    fallback: createStaticAppHandler({ distDir, logger: silentLogger }),
  });
  return {
    server,
    baseUrl: `http://localhost:${server.port}`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
