/**
 * `postinstall`: makes the embedded-database template (see embedded-template.ts) so the first
 * `npm start` skips initdb. Never fails the install: without a template, start-up is only slower.
 */
import { prepareEmbeddedTemplate } from "./embedded-template.js";

try {
  const started = performance.now();
  const file = await prepareEmbeddedTemplate();
  process.stdout.write(`cypher: embedded database template ready (${file}, ${Math.round(performance.now() - started)} ms)\n`);
} catch (error) {
  process.stdout.write(`cypher: no embedded database template (${error instanceof Error ? error.message : String(error)}); first start will be slower\n`);
}
