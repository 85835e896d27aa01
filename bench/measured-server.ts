/**
 * The server process of `npm run bench`: Cypher exactly as `npm start` runs it (startCypherServer,
 * configuration from the environment bench/run.ts passes), plus a side channel over IPC through
 * which the driver reads this process's CPU time (every thread: OPAQUE workers and libuv's
 * thread pool included), resident memory and main-thread GC pauses (usage-report.ts).
 */
import { loadConfig } from "../server/config.js";
import { startCypherServer } from "../server/cypher-server.js";
import { boundHeapGrowth } from "../server/heap-tuning.js";
import { createLogger } from "../server/logger.js";
import { usageReporter } from "./usage-report.js";

boundHeapGrowth();
const usage = usageReporter();
const config = loadConfig(process.env);
const server = await startCypherServer({ config, logger: createLogger(config.logLevel), env: process.env });

process.on("message", async (message: { type: string; resetLongestPause?: boolean }) => {
  if (message.type === "usage") {
    process.send!({ type: "usage", ...usage(message.resetLongestPause === true) });
  } else if (message.type === "stop") {
    await server.stop();
    process.exit(0);
  }
});
process.send!({ type: "ready", port: server.port, grpcPort: server.grpcPort, storage: server.storage });
