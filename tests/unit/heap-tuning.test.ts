import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SERVER_NODE_OPTIONS } from "../../server/heap-tuning.js";

describe("server heap tuning", () => {
  it("is on npm start's command line, before the entry point", () => {
    const scripts = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts;
    // npm start builds the server (server/build-server.ts), then runs the compiled entry point.
    const [buildStep, run] = scripts.start!.split("&&").map((part) => part.trim());
    expect(buildStep).toBe(scripts.build);
    const words = run!.split(/\s+/);
    expect(words[0]).toBe("node");
    const entry = words.indexOf("dist/server/main.js");
    expect(entry).toBeGreaterThan(0);
    for (const option of SERVER_NODE_OPTIONS) {
      const at = words.indexOf(option);
      expect(at, `${option} in "${run}"`).toBeGreaterThan(0);
      expect(at).toBeLessThan(entry);
    }
  });

  it("is on the README's example command for starting the server another way", () => {
    const readme = readFileSync("README.md", "utf8");
    const example = /`npm run build && (node [^`]*dist\/server\/main\.js)`/.exec(readme)?.[1];
    expect(example, "the README's example command").toBeDefined();
    const words = example!.split(/\s+/);
    for (const option of SERVER_NODE_OPTIONS) expect(words, example).toContain(option);
  });
});
