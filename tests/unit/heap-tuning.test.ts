import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SERVER_NODE_OPTIONS } from "../../server/heap-tuning.js";

describe("server heap tuning", () => {
  it("is on npm start's command line, before the entry point", () => {
    const start = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts.start!;
    const words = start.split(/\s+/);
    expect(words[0]).toBe("node");
    const entry = words.indexOf("server/main.ts");
    expect(entry).toBeGreaterThan(0);
    for (const option of SERVER_NODE_OPTIONS) {
      const at = words.indexOf(option);
      expect(at, `${option} in "${start}"`).toBeGreaterThan(0);
      expect(at).toBeLessThan(entry);
    }
  });
});
