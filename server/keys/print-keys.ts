/**
 * `npm run keys`: prints a fresh, complete set of key material as environment lines, for
 * production deployments (`NODE_ENV=production` requires them). Keep the output secret.
 */
import { generateKeyValues } from "./load-key-material.js";

const values = await generateKeyValues();
process.stdout.write("# Cypher key material. Secret: store it like a database password.\n");
process.stdout.write("# Never change OPAQUE_OPRF_SEED on a server with accounts: every login depends on it.\n");
for (const [name, value] of Object.entries(values)) process.stdout.write(`${name}=${value}\n`);
