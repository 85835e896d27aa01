import { spawnSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../server/logger.js";

function capture(level: Parameters<typeof createLogger>[0] = "debug") {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { logger, lines };
}

describe("logger", () => {
  it("writes one JSON object per line with time, level, message and fields", () => {
    const { logger, lines } = capture();
    logger.child({ component: "test" }).info("rpc", { method: "/x.Y/Z", durationMs: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", msg: "rpc", component: "test", method: "/x.Y/Z", durationMs: 3 });
    expect(Date.parse(lines[0]!.time as string)).not.toBeNaN();
  });

  it("logs an error by name, message and code, never its stack", () => {
    const { logger, lines } = capture();
    const error = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    logger.error("query failed", { error });
    expect(lines[0]!.error).toEqual({ name: "Error", message: "connect ECONNREFUSED 127.0.0.1:5432", code: "ECONNREFUSED" });
    expect(JSON.stringify(lines[0])).not.toContain("logger.test"); // a stack would name this file
  });

  it("drops lines below its level", () => {
    const { logger, lines } = capture("warn");
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    expect(lines.map((l) => l.msg)).toEqual(["w"]);
    expect((["debug", "info", "warn", "error"] as const).map((level) => logger.child({}).enabled(level))).toEqual([false, false, true, true]);
  });

  it("writes stdout lines in order, across loggers, batched per event-loop turn, and loses none when the process exits", () => {
    // A child process: logs three lines in one turn, two more in the next, then exits at once.
    const script = `
      import { createLogger } from ${JSON.stringify(pathToFileURL(path.resolve("server/logger.ts")).href)};
      const logger = createLogger("info");
      const other = createLogger("info"); // a second logger shares the one buffer: order holds across both
      for (const n of [1, 2, 3]) (n === 2 ? other : logger).info("line", { n });
      setImmediate(() => { other.info("line", { n: 4 }); logger.warn("line", { n: 5 }); process.exit(0); });
    `;
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { n: number; level: string });
    expect(lines.map((l) => l.n)).toEqual([1, 2, 3, 4, 5]);
    expect(lines[4]!.level).toBe("warn");
  });
});

