/**
 * server/build-server.ts replaces its output folder wholesale: it must refuse one that would take
 * the project or its sources with it, before touching the disk.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildServer } from "../../server/build-server.js";
import { PROJECT_ROOT } from "../../server/project-root.js";

describe("buildServer", () => {
  it("refuses an output folder that is the project, outside it, or overlapping a source", async () => {
    for (const outDir of [PROJECT_ROOT, path.dirname(PROJECT_ROOT), "/tmp/cypher-build", path.join(PROJECT_ROOT, "server"), path.join(PROJECT_ROOT, "gen", "out")]) {
      await expect(buildServer({ outDir }), outDir).rejects.toThrow(TypeError);
    }
    await expect(buildServer({ outDir: path.join(PROJECT_ROOT, "web") }), "around web/build.ts").rejects.toThrow(TypeError);
    expect(existsSync(path.join(PROJECT_ROOT, "server", "main.ts"))).toBe(true);
  });
});
