/**
 * A freshly initialized PGlite cluster, saved once so that new embedded databases skip initdb.
 *
 * Creating a cluster runs initdb inside PGlite's wasm: ~4.5 s on a 2-core machine, most of a first
 * `npm start`. Loading a saved empty cluster takes ~1 s. The template is made by `npm install`
 * (postinstall runs `prepareEmbeddedTemplate`), kept under node_modules/.cache, and keyed by the
 * PGlite version, so an upgrade never loads a cluster made by another PostgreSQL build. Without a
 * template everything still works, only slower: it is a cache, never a requirement.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** PGlite's package folder and version. */
function pglitePackage(): { dir: string; version: string } {
  // The package does not export its package.json: walk up from its entry point.
  let dir = path.dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      const { name, version } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version?: string };
      if (name === "@electric-sql/pglite") return { dir, version: version ?? "unknown" };
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("@electric-sql/pglite has no package.json");
    dir = parent;
  }
}

/**
 * In `.cache/cypher` of the node_modules folder that holds PGlite: found from the package, not
 * from this file, so the sources (server/storage/) and the compiled server (dist/server/storage/)
 * agree on it.
 */
export function embeddedTemplatePath(): string {
  const pglite = pglitePackage();
  const nodeModules = path.dirname(path.dirname(pglite.dir)); // <node_modules>/@electric-sql/pglite
  return path.join(nodeModules, ".cache", "cypher", `pglite-${pglite.version}-cluster.tar.gz`);
}

/** The saved cluster as PGlite's `loadDataDir` wants it, or undefined when there is none. */
export function loadEmbeddedTemplate(): Blob | undefined {
  try {
    const file = embeddedTemplatePath();
    if (!existsSync(file)) return undefined;
    return new Blob([readFileSync(file)]);
  } catch {
    return undefined;
  }
}

/** Saves the template if it is missing. Returns its path. */
export async function prepareEmbeddedTemplate(): Promise<string> {
  const file = embeddedTemplatePath();
  if (existsSync(file)) return file;
  const { PGlite } = await import("@electric-sql/pglite");
  const pglite = new PGlite();
  await pglite.waitReady;
  const dump = await pglite.dumpDataDir("gzip");
  await pglite.close();
  mkdirSync(path.dirname(file), { recursive: true });
  // Write then rename, so a concurrent reader never sees half a file.
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, file);
  return file;
}
