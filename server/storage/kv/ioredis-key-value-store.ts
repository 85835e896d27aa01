/**
 * What the single-Redis and the Redis Cluster stores share (both on ioredis): the commands, the
 * failure policy, and the subscriber connection with its "lost"/"restored" reports. Subclasses
 * say how to reach Redis (`redis-key-value-store.ts`, `redis-cluster-key-value-store.ts`).
 *
 * Failure policy: fail fast, never queue. A request must not hang while Redis is away, so commands
 * issued while disconnected fail at once (no offline queue), a command waits at most
 * `commandTimeoutMs` for its reply, and commands in flight when the connection drops are not
 * resent after reconnecting (their caller already got an error). Connection failures surface as
 * `unavailable()` CypherErrors; Redis reply errors (a programming mistake) surface unchanged,
 * except the ones a cluster answers while it moves slots or fails over, which are unavailability.
 * The connections reconnect in the background on their own.
 *
 * Every key and channel gets `keyPrefix`, so several deployments or test runs can share one Redis.
 */
import type { EventEmitter } from "node:events";
import type { Redis, RedisOptions, Result } from "ioredis";
import { CypherError, unavailable } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { KeyValueStore } from "./key-value-store.js";

/**
 * INCR with a fixed window: the expiry is set only when the counter is created (or, defensively,
 * when it somehow has none), so later increments never extend it. Atomic because Redis runs a
 * script without interleaving other commands. Returns { count, pttl }. One key: on a cluster it
 * runs on the node that owns the key's slot.
 */
export const INCREMENT_IN_WINDOW_LUA = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`;

export const INCREMENT_COMMAND = { numberOfKeys: 1, lua: INCREMENT_IN_WINDOW_LUA } as const;

/** DECR only while the counter exists and is positive: DECR alone would create -1 with no expiry. */
export const DECREMENT_IN_WINDOW_LUA = `
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
`;

export const DECREMENT_COMMAND = { numberOfKeys: 1, lua: DECREMENT_IN_WINDOW_LUA } as const;

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** See INCREMENT_IN_WINDOW_LUA in ioredis-key-value-store.ts. */
    cypherIncrementInWindow(key: string, windowMs: number): Result<[number, number], Context>;
    /** See DECREMENT_IN_WINDOW_LUA in ioredis-key-value-store.ts. */
    cypherDecrementInWindow(key: string): Result<number, Context>;
  }
}

export const DEFAULT_KEY_PREFIX = "cypher:";

/** Options both stores take. */
export interface IoredisStoreOptions {
  /** Prepended to every key and channel. Default "cypher:". */
  keyPrefix?: string;
  /** Longest a command waits for its reply before failing. Default 2000. */
  commandTimeoutMs?: number;
  /** Longest one connection attempt may take. Default 2000. */
  connectTimeoutMs?: number;
  /** Connection losses and recoveries are logged here (once per transition, not per retry). */
  logger?: Logger;
}

/** The commands the stores send, which the single-node and the cluster client both have. */
export type StoreCommands = Pick<Redis, "set" | "getBuffer" | "getdelBuffer" | "del" | "ping" | "cypherIncrementInWindow" | "cypherDecrementInWindow" | "publish" | "spublish">;

/** How the stores' pub/sub speaks: classic (one Redis) or sharded (a cluster). */
export interface PubSubDialect {
  publish: "publish" | "spublish";
  subscribe: "subscribe" | "ssubscribe";
  unsubscribe: "unsubscribe" | "sunsubscribe";
  message: "message" | "smessage";
}

/** The per-connection options of the fail-fast policy (see the file comment). */
export function failFastOptions(options: IoredisStoreOptions): RedisOptions {
  return {
    // connect() is awaited explicitly, so a Redis that does not answer fails start-up.
    lazyConnect: true,
    // While disconnected, a command fails at once instead of waiting in a queue (and running
    // late, after its caller has given up).
    enableOfflineQueue: false,
    // A command in flight when the connection dropped has already failed for its caller.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    // A stalled server or network: the reply never comes in time.
    commandTimeout: options.commandTimeoutMs ?? 2_000,
    connectTimeout: options.connectTimeoutMs ?? 2_000,
    // Keep trying forever, but never more than a second apart, so recovery is quick.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    connectionName: "cypher",
  };
}

interface ChannelSubscription {
  handlers: Set<(message: string) => void>;
  /** Settles when Redis has confirmed the SUBSCRIBE; later subscribers to the channel wait on it. */
  subscribed: Promise<void>;
}

export abstract class IoredisKeyValueStore implements KeyValueStore {
  readonly keyPrefix: string;
  protected readonly logger: Logger | undefined;
  /** The one subscriber connection for all subscriptions, created on the first subscribe. */
  #subscriber: Promise<Redis> | undefined;
  /** The same connection once it is up: used directly, so SUBSCRIBE/UNSUBSCRIBE go out in call order. */
  #subscriberClient: Redis | undefined;
  readonly #channels = new Map<string, ChannelSubscription>();
  readonly #subscriptionListeners = new Set<(state: "lost" | "restored") => void>();
  #closed = false;

  protected constructor(
    options: IoredisStoreOptions,
    private readonly commands: StoreCommands,
    private readonly dialect: PubSubDialect,
  ) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.logger = options.logger;
  }

  /** A new, not yet connected subscriber connection (lazyConnect, autoResubscribe off). */
  protected abstract newSubscriber(): Redis;
  /** Releases the command connection(s). */
  protected abstract closeCommands(): Promise<void>;

  get closed(): boolean {
    return this.#closed;
  }

  async set(key: string, value: Uint8Array | string, ttlMs: number, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    const px = requireTtlMs(ttlMs, "ttlMs");
    const k = this.key(key);
    const v = toRedisValue(value);
    const reply = await this.run(() =>
      options.onlyIfAbsent ? this.commands.set(k, v, "PX", px, "NX") : this.commands.set(k, v, "PX", px),
    );
    return reply === "OK";
  }

  async get(key: string): Promise<Uint8Array | null> {
    return toBytes(await this.run(() => this.commands.getBuffer(this.key(key))));
  }

  async getDel(key: string): Promise<Uint8Array | null> {
    return toBytes(await this.run(() => this.commands.getdelBuffer(this.key(key))));
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.run(() => this.deleteKeys(keys.map((k) => this.key(k))));
  }

  /** DEL of prefixed keys; a cluster overrides it to send one DEL per slot. */
  protected async deleteKeys(keys: string[]): Promise<void> {
    await this.commands.del(...keys);
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    const px = requireTtlMs(windowMs, "windowMs");
    const [count, ttlMs] = await this.run(() => this.commands.cypherIncrementInWindow(this.key(key), px));
    return { count: Number(count), ttlMs: Number(ttlMs) };
  }

  async decrement(key: string): Promise<void> {
    await this.run(() => this.commands.cypherDecrementInWindow(this.key(key)));
  }

  async publish(channel: string, message: string): Promise<void> {
    const name = this.channelName(channel);
    await this.run(() => this.commands[this.dialect.publish](name, message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    const name = this.channelName(channel);
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const subscription = (message: string) => handler(message);
    let entry = this.#channels.get(name);
    if (!entry) {
      const created: ChannelSubscription = {
        handlers: new Set(),
        subscribed: this.run(async () => {
          const subscriber = this.#subscriberClient ?? (await this.#subscriberConnection());
          await subscriber[this.dialect.subscribe](name);
        }),
      };
      entry = created;
      this.#channels.set(name, created);
      // A failed SUBSCRIBE must not leave a dead entry that later subscribers would wait on.
      created.subscribed.catch(() => {
        if (this.#channels.get(name) === created) this.#channels.delete(name);
      });
    }
    entry.handlers.add(subscription);
    try {
      await entry.subscribed;
    } catch (error) {
      entry.handlers.delete(subscription);
      throw error;
    }
    const current = entry;
    return async () => {
      if (!current.handlers.delete(subscription) || current.handlers.size > 0) return;
      if (this.#channels.get(name) === current) this.#channels.delete(name);
      // Delivery has already stopped (no handlers left); failing to tell Redis only means a few
      // ignored messages until the next reconnect, so it is logged rather than thrown.
      try {
        const subscriber = this.#subscriberClient;
        if (subscriber && subscriber.status !== "end") await subscriber[this.dialect.unsubscribe](name);
      } catch (error) {
        this.logger?.warn("redis unsubscribe failed", { channel: name, error });
      }
    };
  }

  onSubscriptionStateChange(listener: (state: "lost" | "restored") => void): () => void {
    const wrapped = (state: "lost" | "restored") => listener(state);
    this.#subscriptionListeners.add(wrapped);
    return () => {
      this.#subscriptionListeners.delete(wrapped);
    };
  }

  /** True when Redis answers PING and the subscriber connection (if any) is up. */
  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      if ((await this.commands.ping()) !== "PONG") return false;
      const subscriber = this.#subscriber ? await this.#subscriber : undefined;
      return subscriber === undefined || subscriber.status === "ready";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.clear();
    const subscriber = await this.#subscriber?.catch(() => undefined);
    await Promise.all([this.closeCommands(), subscriber ? quitOrDisconnect(subscriber) : undefined]);
  }

  protected key(key: string): string {
    return this.keyPrefix + key;
  }

  /** The Redis channel for a store channel; a cluster puts them all in one slot. */
  protected channelName(channel: string): string {
    return this.keyPrefix + channel;
  }

  /** The subscriber connection, if it was ever made. */
  protected get subscriberClient(): Redis | undefined {
    return this.#subscriberClient;
  }

  #subscriberConnection(): Promise<Redis> {
    if (this.#closed) return Promise.reject(new Error("key-value store is closed"));
    if (!this.#subscriber) {
      const subscriber = this.newSubscriber();
      this.watch(subscriber, "subscriber");
      this.#watchDelivery(subscriber);
      subscriber.on(this.dialect.message, (channel: string, message: string) => this.#deliver(channel, message));
      const connecting = this.connectAndPing(subscriber, "subscriber").then(
        () => (this.#subscriberClient = subscriber),
        (error: unknown) => {
          subscriber.disconnect();
          if (this.#subscriber === connecting) this.#subscriber = undefined;
          throw error;
        },
      );
      this.#subscriber = connecting;
    }
    return this.#subscriber;
  }

  /**
   * "lost" when the subscriber connection closes after it was up; "restored" once it is back AND
   * subscribed again to every channel (Redis has answered the SUBSCRIBE), which is when delivery
   * really resumes. The store re-subscribes itself rather than through ioredis's
   * autoResubscribe: a cluster node that gives a slot away unsubscribes its channels on its own,
   * and ioredis then forgets them.
   */
  #watchDelivery(subscriber: Redis): void {
    let delivering = false;
    let wasConnected = false;
    const tell = (state: "lost" | "restored") => {
      for (const listener of [...this.#subscriptionListeners]) {
        try {
          listener(state);
        } catch (error) {
          this.logger?.error("subscription state listener failed", { state, error });
        }
      }
    };
    subscriber.on("close", () => {
      if (!delivering || this.#closed) return;
      delivering = false;
      tell("lost");
    });
    subscriber.on("ready", () => {
      if (this.#closed) return;
      const channels = [...this.#channels.keys()];
      const resubscribed = wasConnected && channels.length > 0 ? subscriber[this.dialect.subscribe](...channels) : subscriber.ping();
      resubscribed.then(
        () => {
          if (delivering || this.#closed) return;
          delivering = true;
          // The first "ready" is the initial connection: nothing was lost before it.
          if (wasConnected) tell("restored");
          wasConnected = true;
        },
        (error: unknown) => {
          // Lost again before answering (the next "ready" tries again), or refused (a cluster
          // node that no longer owns the slot): reconnect, and look for the owner again.
          if (this.#closed || subscriber.status !== "ready") return;
          this.logger?.warn("redis re-subscribe failed; reconnecting", { error });
          subscriber.disconnect(true);
        },
      );
    });
  }

  /** Reports that delivery stopped although the connection is up (a cluster slot moved away), and reconnects. */
  protected subscriptionDropped(subscriber: Redis): void {
    if (this.#closed || subscriber.status === "end") return;
    // Closing the connection reports "lost"; reconnecting re-subscribes and reports "restored".
    subscriber.disconnect(true);
  }

  #deliver(channel: string, message: string): void {
    const entry = this.#channels.get(channel);
    if (!entry) return;
    for (const handler of [...entry.handlers]) {
      // A throwing handler must neither starve the others nor crash the connection's data handler.
      try {
        handler(message);
      } catch (error) {
        this.logger?.error("subscription handler failed", { channel, error });
      }
    }
  }

  protected async connectAndPing(connection: EventEmitter & { connect(): Promise<void>; ping(): Promise<string> }, role: string): Promise<void> {
    let lastError: unknown;
    const remember = (error: unknown) => {
      lastError = error;
    };
    connection.on("error", remember);
    try {
      await connection.connect();
      await connection.ping();
    } catch (error) {
      // ioredis rejects connect() with a bare "Connection is closed."; the error event says why.
      const reason = lastError instanceof Error ? lastError.message : error instanceof Error ? error.message : String(error);
      throw new Error(`Redis (${role} connection) did not answer: ${reason}`, { cause: lastError ?? error });
    } finally {
      connection.off("error", remember);
    }
  }

  /** Logs each loss and recovery once (not every retry); an 'error' listener also keeps ioredis quiet. */
  protected watch(connection: EventEmitter, role: string): void {
    let healthy = true;
    connection.on("error", (error: unknown) => {
      if (!healthy || this.#closed) return;
      healthy = false;
      this.logger?.warn("redis connection lost; retrying", { connection: role, error });
    });
    connection.on("ready", () => {
      if (healthy) return;
      healthy = true;
      this.logger?.info("redis connection restored", { connection: role });
    });
  }

  protected async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

/**
 * Replies a cluster gives while it is failing over or moving slots (after ioredis's own retries):
 * the data is there again in a moment, so they are unavailability, not a bug.
 */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|READONLY|MOVED|ASK)\b/;

/** Connection-level failures become Unavailable; Redis's own reply errors (a bug here) stay as they are. */
function toStoreError(error: unknown): unknown {
  if (error instanceof CypherError) return error;
  if (error instanceof Error && error.name === "ReplyError" && !TRANSIENT_REPLY.test(error.message)) return error;
  const wrapped = unavailable();
  wrapped.cause = error;
  return wrapped;
}

function toRedisValue(value: Uint8Array | string): Buffer | string {
  if (typeof value === "string") return value;
  // A view, not a copy; ioredis would stringify a plain Uint8Array ("1,2,3").
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * A plain Uint8Array copy: Buffer's different toString()/equals() must not leak to callers, and
 * the parser's Buffer may share memory with other replies.
 */
function toBytes(buffer: Buffer | null): Uint8Array | null {
  return buffer === null ? null : new Uint8Array(buffer);
}

/** Redis needs a positive whole number of milliseconds; anything else is a caller's bug. */
function requireTtlMs(ms: number, name: string): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new TypeError(`${name} must be a positive number of milliseconds, got ${ms}`);
  return Math.ceil(ms);
}

export async function quitOrDisconnect(connection: { status: string; quit(): Promise<unknown>; disconnect(): void }): Promise<void> {
  if (connection.status === "end") return;
  try {
    if (connection.status !== "ready") throw new Error("not connected");
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
