/**
 * The Redis deployments the multi-instance suites run on, so one suite covers both: the shared
 * single Redis (TEST_REDIS_URL; each run has its own key prefix and deletes its keys) and a
 * private three-master Redis Cluster started for the test file (own-redis-cluster.ts) on first
 * use and destroyed by `release()`.
 *
 * Both run when TEST_REDIS_URL is set (as in CI); without it, suites skip visibly as before, and
 * CI fails on any skip. A machine with TEST_REDIS_URL but no redis-server binary fails the cluster
 * runs loudly.
 */
import { RedisClusterKeyValueStore } from "../../../server/storage/kv/redis-cluster-key-value-store.js";
import { RedisKeyValueStore } from "../../../server/storage/kv/redis-key-value-store.js";
import type { IoredisStoreOptions } from "../../../server/storage/kv/ioredis-key-value-store.js";
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueKeyPrefix } from "../../storage/redis-test-support.js";
import { OwnRedisCluster } from "./own-redis-cluster.js";

export type SharedStore = RedisKeyValueStore | RedisClusterKeyValueStore;

export interface SharedRedis {
  /** "Redis" or "Redis Cluster", for suite names. */
  name: string;
  /** This run's key prefix (every store of the suite uses it, as instances of one deployment do). */
  keyPrefix: string;
  /** A store on this deployment, as one more server instance would open it. */
  connect(options?: Omit<IoredisStoreOptions, "keyPrefix">): Promise<SharedStore>;
  /** After the stores are closed: deletes the run's keys, or stops the private cluster. */
  release(): Promise<void>;
  /** The private cluster, for tests that need its nodes; undefined on single Redis. */
  cluster(): Promise<OwnRedisCluster | undefined>;
}

/** Both deployments (when TEST_REDIS_URL is set), else none. */
export function sharedRedisDeployments(): SharedRedis[] {
  const url = TEST_REDIS_URL;
  return url ? [singleRedis(url), redisCluster()] : [];
}

function singleRedis(url: string): SharedRedis {
  const keyPrefix = uniqueKeyPrefix();
  return {
    name: "Redis",
    keyPrefix,
    connect: (options = {}) => RedisKeyValueStore.connect({ ...options, url, keyPrefix }),
    release: async () => {
      await deleteKeysWithPrefix(url, keyPrefix);
    },
    cluster: async () => undefined,
  };
}

function redisCluster(): SharedRedis {
  const keyPrefix = uniqueKeyPrefix();
  let started: Promise<OwnRedisCluster> | undefined;
  const cluster = () => (started ??= OwnRedisCluster.start());
  return {
    name: "Redis Cluster",
    keyPrefix,
    connect: async (options = {}) => RedisClusterKeyValueStore.connect({ ...options, nodes: (await cluster()).seeds, keyPrefix }),
    release: async () => {
      const running = await started?.catch(() => undefined);
      started = undefined;
      await running?.destroy();
    },
    cluster,
  };
}
