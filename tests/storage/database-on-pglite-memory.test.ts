import { openDatabase } from "../../server/storage/open-database.js";
import { databaseContract } from "./database-contract.js";

databaseContract({
  name: "PGlite in memory",
  open: async () => openDatabase({ kind: "memory" }),
});
