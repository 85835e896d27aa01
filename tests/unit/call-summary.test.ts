/**
 * The internal port's summary of successful calls: one line per method that was called, with its
 * count and durations, nothing for methods that were not, and counters that start over.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { CallSummary } from "../../server/grpc/call-summary.js";
import { createLogger } from "../../server/logger.js";

describe("CallSummary", () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger("info", (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  afterEach(() => {
    lines.length = 0;
    vi.useRealTimers();
  });

  it("logs each called method's count, mean and longest duration once per interval, then starts over", () => {
    vi.useFakeTimers();
    const summary = new CallSummary({ logger, intervalMs: 1_000, fields: { listener: "internal" } });
    const verify = summary.tally("/s/Verify");
    summary.tally("/s/Unused");
    for (const ms of [1, 6, 2]) verify.add(ms);
    vi.advanceTimersByTime(999);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual([
      expect.objectContaining({ level: "info", msg: "rpc summary", method: "/s/Verify", code: "ok", calls: 3, durationMsMean: 3, durationMsMax: 6, listener: "internal" }),
    ]);
    vi.advanceTimersByTime(1_000);
    expect(lines).toHaveLength(1); // nothing called since: no line
    verify.add(0.5);
    summary.close();
    expect(lines[1]).toMatchObject({ method: "/s/Verify", calls: 1, durationMsMean: 0.5, durationMsMax: 0.5 });
    vi.advanceTimersByTime(5_000);
    expect(lines).toHaveLength(2); // closed: the timer is gone
  });

  it("refuses an interval that would never fire", () => {
    expect(() => new CallSummary({ logger, intervalMs: 0 })).toThrow(TypeError);
  });
});
