/**
 * `npm start`: reads the configuration, starts Cypher, and shuts it down cleanly on SIGTERM/SIGINT
 * (stop accepting, drain in-flight calls within SHUTDOWN_GRACE_MS, close pools, exit 0).
 */
import { performance } from "node:perf_hooks";
import { ConfigError, loadConfig } from "./config.js";
import { startCypherServer } from "./cypher-server.js";
import { boundHeapGrowth } from "./heap-tuning.js";
import { KeyMaterialError } from "./keys/load-key-material.js";
import { createLogger } from "./logger.js";
import { createStaticAppHandler, DEFAULT_WEB_DIST_DIR } from "./web/static-app.js";

const startedAt = performance.now();
boundHeapGrowth();

function fail(lines: string[], exitCode: number): never {
  for (const line of lines) process.stderr.write(`cypher: ${line}\n`);
  process.exit(exitCode);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) fail(error.problems, 2);
  throw error;
}

const logger = createLogger(config.logLevel);

// The web app is (re)built when its sources changed, alongside start-up rather than before it:
// RPCs do not need it, and the static handler serves the new files as soon as they are written.
// esbuild is a development dependency; a production install ships web/dist prebuilt.
void import("../web/build.js")
  .then(({ buildWebAppIfStale }) => buildWebAppIfStale())
  .then(
    (build) => {
      if (build.built) logger.info("web app built", { durationMs: build.durationMs });
    },
    (error: unknown) => logger.warn("web app not rebuilt; serving what web/dist holds", { error }),
  );

let server;
try {
  server = await startCypherServer({
    config,
    logger,
    fallback: createStaticAppHandler({ distDir: DEFAULT_WEB_DIST_DIR, logger }),
  });
} catch (error) {
  if (error instanceof KeyMaterialError) fail(error.problems, 2);
  logger.error("start-up failed", { error });
  fail([`start-up failed: ${error instanceof Error ? error.message : String(error)}`], 1);
}

const scheme = config.tls ? "https" : "http";
logger.info("serving", {
  url: `${scheme}://${config.host ?? "localhost"}:${server.port}`,
  database: server.storage.database,
  kv: server.storage.kv,
  keys: server.storage.keys,
  startupMs: Math.round(performance.now() - startedAt),
});

let signals = 0;
const shutdown = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) {
    logger.warn("second signal: exiting now", { signal });
    process.exit(1);
  }
  logger.info("shutting down", { signal, graceMs: config.limits.shutdownGraceMs });
  server.stop().then(
    () => {
      logger.info("stopped");
      process.exit(0);
    },
    (error: unknown) => {
      logger.error("shutdown failed", { error });
      process.exit(1);
    },
  );
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
