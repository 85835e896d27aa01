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
  });
});
