import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openDatabase } from "../../server/storage/open-database.js";
import { databaseContract } from "./database-contract.js";

const dataDir = path.join(mkdtempSync(path.join(tmpdir(), "cypher-pglite-")), "pgdata");

databaseContract({
  name: "PGlite embedded under a data directory",
  open: async () => openDatabase({ kind: "embedded", dataDir }),
  reopen: async () => openDatabase({ kind: "embedded", dataDir }),
  cleanup: async () => rmSync(path.dirname(dataDir), { recursive: true, force: true }),
});
