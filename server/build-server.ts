/**
 * `npm run build`, and the first step of `npm start`: the server as plain JavaScript in dist/.
 *
 *   npx tsx server/build-server.ts    writes dist/ (replacing what was there)
 *
 * Why a server process runs compiled code rather than its sources under tsx: tsx's module hooks
 * live, for the whole life of the process, on a loader thread of their own, with the transpiled
 * sources it has handed out (the memory this costs: docs/architecture.md).
 *
 * Each file is transpiled on its own (esbuild; no bundling, no type check: `npm run typecheck` does
 * that) to the same relative path under dist/, so imports, the worker threads' URLs (their .mjs
 * files are copied alongside) and PROJECT_ROOT resolve exactly as from the sources. The
 * process-level tests, the soak and the bench run such a build too; the other tests and the tools
 * run the sources under tsx.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { PROJECT_ROOT } from "./project-root.js";

/** What a server process needs: the server, the generated code, and the web app's builder (main.ts starts it). */
export const SERVER_SOURCES: readonly string[] = ["server", "gen", "web/build.ts"];
export const DEFAULT_SERVER_OUT_DIR = path.join(PROJECT_ROOT, "dist");

export interface ServerBuild {
  outDir: string;
  files: number;
  durationMs: number;
}

/**
 * Compiles `sources` (folders or files, relative to the project) into `outDir`. The output is
 * written beside it first and moved into place at the end, so a failed build leaves the last good
 * one. `outDir` must be inside the project: the compiled files find package.json ("type":
 * "module") and node_modules by walking up from where they are.
 */
export async function buildServer(options: { outDir?: string; sources?: readonly string[] } = {}): Promise<ServerBuild> {
  const startedMs = performance.now();
  const outDir = path.resolve(options.outDir ?? DEFAULT_SERVER_OUT_DIR);
  const sources = options.sources ?? SERVER_SOURCES;
  checkOutDir(outDir, sources);
  const { typescript, javascript } = sourceFiles(sources);

  const staging = `${outDir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await build({
      absWorkingDir: PROJECT_ROOT,
      entryPoints: typescript,
      outdir: staging,
      outbase: PROJECT_ROOT,
      bundle: false,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
    });
    for (const file of javascript) {
      const target = path.join(staging, path.relative(PROJECT_ROOT, file));
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(file, target);
    }
    rmSync(outDir, { recursive: true, force: true });
    renameSync(staging, outDir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { outDir, files: typescript.length + javascript.length, durationMs: Math.round(performance.now() - startedMs) };
}

/**
 * `outDir` is replaced wholesale, so it must be a folder of its own inside the project: not the
 * project itself, and neither inside nor around a source.
 */
function checkOutDir(outDir: string, sources: readonly string[]): void {
  const inside = (child: string, parent: string) => {
    const relative = path.relative(parent, child);
    return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
  };
  if (outDir === PROJECT_ROOT || !inside(outDir, PROJECT_ROOT)) throw new TypeError(`outDir must be a folder inside ${PROJECT_ROOT}`);
  for (const source of sources) {
    const full = path.join(PROJECT_ROOT, source);
    if (inside(outDir, full) || inside(full, outDir)) throw new TypeError(`outDir must not overlap the source ${source}`);
  }
}

/** The .ts files to transpile and the .mjs files to copy (declaration files are neither). */
function sourceFiles(sources: readonly string[]): { typescript: string[]; javascript: string[] } {
  const typescript: string[] = [];
  const javascript: string[] = [];
  const visit = (file: string) => {
    if (statSync(file).isDirectory()) {
      for (const name of readdirSync(file)) visit(path.join(file, name));
    } else if (/\.d\.m?ts$/.test(file)) {
      return;
    } else if (file.endsWith(".ts")) {
      typescript.push(file);
    } else if (file.endsWith(".mjs")) {
      javascript.push(file);
    }
  };
  for (const source of sources) {
    const full = path.join(PROJECT_ROOT, source);
    if (!existsSync(full)) throw new TypeError(`no such source: ${source}`);
    visit(full);
  }
  return { typescript, javascript };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildServer().then(
    (result) => console.log(`server built into ${path.relative(process.cwd(), result.outDir) || "."} (${result.files} files, ${result.durationMs} ms)`),
    (error: unknown) => {
      console.error(`server build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
