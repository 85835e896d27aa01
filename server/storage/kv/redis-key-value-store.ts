/**
 * The Redis KeyValueStore on one Redis server (ioredis): shared by every instance, so a login
 * begun on one instance finishes on another and a revocation published on one reaches all.
 * Commands, failure policy and subscriptions: see ioredis-key-value-store.ts.
 */
import { Redis } from "ioredis";
import { DECREMENT_COMMAND, DEFAULT_KEY_PREFIX, failFastOptions, INCREMENT_COMMAND, IoredisKeyValueStore, quitOrDisconnect, type IoredisStoreOptions } from "./ioredis-key-value-store.js";

export { DEFAULT_KEY_PREFIX };

export interface RedisKeyValueStoreOptions extends IoredisStoreOptions {
  /** `redis://` or `rediss://` URL; may carry credentials and a database number. */
  url: string;
}

export class RedisKeyValueStore extends IoredisKeyValueStore {
  readonly #redis: Redis;

  /** Connects and checks that Redis answers; throws (after releasing the connection) if it does not. */
  static async connect(options: RedisKeyValueStoreOptions): Promise<RedisKeyValueStore> {
    const redis = new Redis(options.url, failFastOptions(options));
    redis.defineCommand("cypherIncrementInWindow", INCREMENT_COMMAND);
    redis.defineCommand("cypherDecrementInWindow", DECREMENT_COMMAND);
    const store = new RedisKeyValueStore(options, redis);
    try {
      await store.connectAndPing(redis, "commands");
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return store;
  }

  private constructor(options: RedisKeyValueStoreOptions, redis: Redis) {
    super(options, redis, { publish: "publish", subscribe: "subscribe", unsubscribe: "unsubscribe", message: "message" });
    this.#redis = redis;
    this.watch(redis, "commands");
  }

  protected newSubscriber(): Redis {
    return this.#redis.duplicate({ autoResubscribe: false, connectionName: "cypher-subscriber" });
  }

  protected closeCommands(): Promise<void> {
    return quitOrDisconnect(this.#redis);
  }
}
