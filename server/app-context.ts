/**
 * What the domain services are built from. `main.ts` assembles one for the process; tests assemble
 * theirs with a ManualClock, embedded storage and silent logs.
 */
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { KeyMaterial } from "./keys/key-material.js";
import type { Logger } from "./logger.js";
import type { DomainMetrics } from "./metrics/domain-metrics.js";
import type { Db } from "./storage/database.js";
import type { KeyValueStore } from "./storage/kv/key-value-store.js";

export interface AppContext {
  config: Config;
  clock: Clock;
  logger: Logger;
  db: Db;
  kv: KeyValueStore;
  keys: KeyMaterial;
  /** Where domain events are counted (server/metrics/); absent: nothing is counted. */
  metrics?: DomainMetrics;
}
