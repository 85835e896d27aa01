/**
 * The web app build: what lands in dist, that index.html stays CSP-clean and pins its assets with
 * Subresource Integrity, and that `--if-stale` rebuilds exactly when it must.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWebApp, buildWebAppIfStale, WEB_APP_FILES, webAppIsStale } from "../../web/build.js";

describe("web app build", () => {
  let outDir: string;

  beforeAll(async () => {
    outDir = path.join(mkdtempSync(path.join(os.tmpdir(), "cypher-build-")), "dist");
    await buildWebApp({ outDir });
  });

  afterAll(() => {
    rmSync(path.dirname(outDir), { recursive: true, force: true });
  });

  it("writes index.html, app.js, app.css and the icon", () => {
    for (const file of WEB_APP_FILES) expect(readFileSync(path.join(outDir, file)).length, file).toBeGreaterThan(0);
  });

  it("keeps index.html free of inline script and style", () => {
    const html = readFileSync(path.join(outDir, "index.html"), "utf8");
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(1);
    for (const [tag, body] of scripts) {
      expect(tag).toContain('src="/app.js"');
      expect(body?.trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toContain("<style");
  });

  it("pins app.js and app.css with Subresource Integrity", () => {
    const html = readFileSync(path.join(outDir, "index.html"), "utf8");
    for (const file of ["app.js", "app.css"]) {
      const digest = createHash("sha384").update(readFileSync(path.join(outDir, file))).digest("base64");
      expect(html).toContain(`integrity="sha384-${digest}"`);
    }
  });

  it("bundles everything: no bare imports left for the browser to resolve", () => {
    const js = readFileSync(path.join(outDir, "app.js"), "utf8");
    expect(js).not.toMatch(/\bimport\s*[^(]*?from\s*["'][^./]/);
    expect(js).not.toMatch(/\brequire\(/);
    // Nothing that the CSP (no 'unsafe-eval') would refuse at run time.
    expect(js).not.toMatch(/\bnew Function\(|\beval\(/);
  });

  it("rebuilds only when dist is incomplete or was built from other sources", async () => {
    expect(await webAppIsStale(outDir)).toBe(false);
    expect((await buildWebAppIfStale({ outDir })).built).toBe(false);

    unlinkSync(path.join(outDir, "app.css"));
    expect(await webAppIsStale(outDir)).toBe(true);
    expect((await buildWebAppIfStale({ outDir })).built).toBe(true);
    expect(await webAppIsStale(outDir)).toBe(false);

    const stamp = path.join(outDir, ".build-stamp.json");
    writeFileSync(stamp, JSON.stringify({ inputHash: "built-from-older-sources" }));
    expect(await webAppIsStale(outDir)).toBe(true);
    expect((await buildWebAppIfStale({ outDir })).built).toBe(true);
    expect(await webAppIsStale(outDir)).toBe(false);
  });
});
