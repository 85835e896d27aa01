/**
 * Builds the browser app into `web/dist` (index.html, app.js, app.css, favicon.svg) with esbuild.
 *
 *   npx tsx web/build.ts              build now
 *   npx tsx web/build.ts --if-stale   build only when the sources changed or dist is incomplete
 *                                     (what `npm start` runs first)
 *
 * Staleness is decided by content, not mtimes: a hash over every input (web/src, gen, this file,
 * package-lock.json) is kept in dist/.build-stamp.json. index.html carries Subresource Integrity
 * hashes of app.js and app.css, so a half-updated dist fails closed instead of running mixed code.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT as ROOT } from "../server/project-root.js";

export const WEB_SOURCE_DIR = path.join(ROOT, "web", "src");
export const DEFAULT_WEB_DIST_DIR = path.join(ROOT, "web", "dist");
/** Files a complete build contains; the static handler serves exactly these. */
export const WEB_APP_FILES = ["index.html", "app.js", "app.css", "favicon.svg"] as const;
const STAMP_FILE = ".build-stamp.json";

/** Inputs beyond web/src whose change must trigger a rebuild. */
const EXTRA_INPUTS = [
  path.join(ROOT, "gen"),
  path.join(ROOT, "web", "build.ts"),
  path.join(ROOT, "package-lock.json"),
  // The client driver shared with tests and bench, which the app bundles.
  path.join(ROOT, "client"),
  // Server code the app bundles (pure functions shared so both sides apply one rule).
  path.join(ROOT, "server", "auth", "username.ts"),
  path.join(ROOT, "server", "auth", "username-scripts.ts"),
  path.join(ROOT, "server", "errors.ts"),
];

export interface BuildWebAppOptions {
  /** Where to write; `web/dist` by default. */
  outDir?: string;
  /** Minified by default; false keeps the output readable. */
  minify?: boolean;
}

export interface WebAppBuild {
  outDir: string;
  /** False when `buildWebAppIfStale` found dist up to date. */
  built: boolean;
  inputHash: string;
  durationMs: number;
}

export async function buildWebApp(options: BuildWebAppOptions = {}): Promise<WebAppBuild> {
  const started = performance.now();
  const outDir = path.resolve(options.outDir ?? DEFAULT_WEB_DIST_DIR);
  const inputHash = await hashInputs();
  // Loaded only when a build runs: a server whose web app is up to date never holds esbuild.
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [
      { in: path.join(WEB_SOURCE_DIR, "app", "main.ts"), out: "app" },
      { in: path.join(WEB_SOURCE_DIR, "app", "app.css"), out: "app" },
    ],
    outdir: outDir,
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome109", "firefox115", "safari16"],
    minify: options.minify ?? true,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const outputs = new Map(result.outputFiles.map((file) => [path.basename(file.path), file.contents]));
  const js = outputs.get("app.js");
  const css = outputs.get("app.css");
  if (!js || !css) throw new Error(`esbuild produced ${[...outputs.keys()].join(", ")}, expected app.js and app.css`);

  const template = await readFile(path.join(WEB_SOURCE_DIR, "app", "index.html"), "utf8");
  const html = template.replace("{{APP_JS_INTEGRITY}}", integrity(js)).replace("{{APP_CSS_INTEGRITY}}", integrity(css));
  const favicon = await readFile(path.join(WEB_SOURCE_DIR, "app", "favicon.svg"));

  await mkdir(outDir, { recursive: true });
  // Assets first, index.html after them, the stamp last: a crash half-way leaves a stale stamp,
  // so the next `--if-stale` run builds again.
  await writeAtomically(path.join(outDir, "app.js"), js);
  await writeAtomically(path.join(outDir, "app.css"), css);
  await writeAtomically(path.join(outDir, "favicon.svg"), favicon);
  await writeAtomically(path.join(outDir, "index.html"), html);
  await writeAtomically(path.join(outDir, STAMP_FILE), JSON.stringify({ inputHash, files: WEB_APP_FILES }, null, 2) + "\n");
  return { outDir, built: true, inputHash, durationMs: Math.round(performance.now() - started) };
}

/** True when dist is missing a file or was built from different sources. */
export async function webAppIsStale(outDir: string = DEFAULT_WEB_DIST_DIR): Promise<boolean> {
  const dir = path.resolve(outDir);
  if (WEB_APP_FILES.some((file) => !existsSync(path.join(dir, file)))) return true;
  try {
    const stamp = JSON.parse(await readFile(path.join(dir, STAMP_FILE), "utf8")) as { inputHash?: unknown };
    return stamp.inputHash !== (await hashInputs());
  } catch {
    return true;
  }
}

export async function buildWebAppIfStale(options: BuildWebAppOptions = {}): Promise<WebAppBuild> {
  const started = performance.now();
  const outDir = path.resolve(options.outDir ?? DEFAULT_WEB_DIST_DIR);
  if (await webAppIsStale(outDir)) return await buildWebApp({ ...options, outDir });
  return { outDir, built: false, inputHash: await hashInputs(), durationMs: Math.round(performance.now() - started) };
}

/** sha256 over the relative path and content of every input file, in a stable order. */
export async function hashInputs(): Promise<string> {
  const files = (await Promise.all([WEB_SOURCE_DIR, ...EXTRA_INPUTS].map(listFiles))).flat().sort();
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(path.relative(ROOT, file)).update("\0");
    hash.update(await readFile(file)).update("\0");
  }
  return hash.digest("hex");
}

async function listFiles(entry: string): Promise<string[]> {
  if (!existsSync(entry)) return [];
  const entries = await readdir(entry, { withFileTypes: true }).catch(() => null);
  if (entries === null) return [entry]; // a file
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? listFiles(path.join(entry, e.name)) : [path.join(entry, e.name)])));
  return nested.flat();
}

function integrity(content: Uint8Array): string {
  return `sha384-${createHash("sha384").update(content).digest("base64")}`;
}

async function writeAtomically(file: string, content: string | Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, content);
  await rename(temp, file);
}

async function cli(args: string[]): Promise<void> {
  const ifStale = args.includes("--if-stale");
  const outIndex = args.indexOf("--out");
  const outDir = outIndex >= 0 ? args[outIndex + 1] : undefined;
  const result = ifStale ? await buildWebAppIfStale({ outDir }) : await buildWebApp({ outDir });
  const where = path.relative(process.cwd(), result.outDir) || ".";
  console.log(result.built ? `web app built into ${where} in ${result.durationMs} ms` : `web app in ${where} is up to date`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`web app build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
