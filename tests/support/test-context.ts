/**
 * An AppContext for tests: a ManualClock, in-memory PGlite (or PostgreSQL), the in-process KV store
 * (or Redis), fresh key material and silent logs. Each call gets its own isolated state.
 */
import { ManualClock } from "../../server/clock.js";
import { loadConfig, type Config } from "../../server/config.js";
import type { AppContext } from "../../server/app-context.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import type { KeyMaterial } from "../../server/keys/key-material.js";
import { silentLogger } from "../../server/logger.js";
import { migrateToLatest } from "../../server/storage/migrate.js";
import { openDatabase } from "../../server/storage/open-database.js";
import { MemoryKeyValueStore } from "../../server/storage/kv/memory-key-value-store.js";
import type { KeyValueStore } from "../../server/storage/kv/key-value-store.js";

export interface TestContext extends AppContext {
  clock: ManualClock;
  close(): Promise<void>;
}

let sharedKeys: Promise<KeyMaterial> | undefined;

export async function createTestContext(options: {
  env?: Record<string, string>;
  clock?: ManualClock;
  kv?: KeyValueStore;
  /** Share key material between contexts (two "instances" of one deployment). */
  keys?: KeyMaterial;
  databaseUrl?: string;
} = {}): Promise<TestContext> {
  const clock = options.clock ?? new ManualClock();
  const config: Config = loadConfig({ GRPC_PORT: "off", ...options.env });
  const database = openDatabase(options.databaseUrl ? { kind: "postgres", url: options.databaseUrl } : { kind: "memory" });
  await migrateToLatest(database.db);
  const kv = options.kv ?? new MemoryKeyValueStore({ nowMs: () => clock.now().getTime() });
  // Key generation costs ~10 ms; one set per test file is plenty unless a test asks for its own.
  const keys = options.keys ?? (await (sharedKeys ??= generateKeyMaterial()));
  return {
    config,
    clock,
    logger: silentLogger,
    db: database.db,
    kv,
    keys,
    close: async () => {
      if (!options.kv) await kv.close();
      await database.close();
    },
  };
}
