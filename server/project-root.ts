/**
 * The project's folder: the nearest one above this file that holds package.json. Paths to files
 * outside the code (web/dist, web/src) are taken from it, so they are the same whether this file
 * runs from its source (server/, under tsx) or compiled (dist/server/, as `npm start` runs it).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findProjectRoot(from: string): string {
  for (let dir = from; ; ) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}

export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));
