/**
 * Picks the KeyValueStore for this process: Redis when REDIS_URL is set, Redis Cluster when
 * REDIS_CLUSTER_NODES is (either checked at start, so a wrong address stops the process instead of
 * failing every later request), the in-process store otherwise (correct for ONE instance only).
 */
import type { Clock } from "../../clock.js";
import type { Config } from "../../config.js";
import type { Logger } from "../../logger.js";
import type { KeyValueStore } from "./key-value-store.js";
import { MemoryKeyValueStore } from "./memory-key-value-store.js";
import { RedisClusterKeyValueStore } from "./redis-cluster-key-value-store.js";
import { DEFAULT_KEY_PREFIX, RedisKeyValueStore } from "./redis-key-value-store.js";

export interface CreateKeyValueStoreOptions {
  /** Prefix for every Redis key and channel (default "cypher:"); ignored in-process. */
  keyPrefix?: string;
}

export async function createKeyValueStore(
  config: Pick<Config, "redisUrl"> & Partial<Pick<Config, "redisCluster">>,
  logger: Logger,
  clock?: Clock,
  options: CreateKeyValueStoreOptions = {},
): Promise<KeyValueStore> {
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (config.redisCluster) {
    const { nodes, username, password, tls } = config.redisCluster;
    const seeds = nodes.map((n) => `${n.host}:${n.port}`).join(",");
    try {
      const store = await RedisClusterKeyValueStore.connect({ nodes, username, password, tls, keyPrefix, logger });
      logger.info("key-value store: Redis Cluster", { seeds, tls, keyPrefix });
      return store;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`REDIS_CLUSTER_NODES is set to ${seeds} but ${reason}`, { cause: error });
    }
  }
  if (!config.redisUrl) {
    logger.info("key-value store: in-process (one instance only; set REDIS_URL or REDIS_CLUSTER_NODES to share state between instances)");
    return new MemoryKeyValueStore({ nowMs: clock ? () => clock.now().getTime() : undefined, logger });
  }
  const url = redactUrl(config.redisUrl);
  let store: RedisKeyValueStore;
  try {
    store = await RedisKeyValueStore.connect({ url: config.redisUrl, keyPrefix, logger });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`REDIS_URL is set to ${url} but ${reason}`, { cause: error });
  }
  logger.info("key-value store: Redis", { url, keyPrefix });
  return store;
}

/** The URL with its password replaced, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
