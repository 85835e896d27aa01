/**
 * The Redis KeyValueStore on a Redis Cluster (ioredis `Cluster`), for deployments that outgrow one
 * Redis or need it highly available. Same commands, failure policy and subscription reports as
 * on one Redis (ioredis-key-value-store.ts); what differs:
 *
 *  - Slots. Each command goes to the master owning its key's slot. Keys that one operation
 *    touches together share a hash tag (`{…}`) in the callers' key names, so they land in one
 *    slot; a DEL naming keys of several slots is sent as one DEL per slot (DEL promises nothing
 *    atomic across keys).
 *  - Pub/sub is sharded (SPUBLISH/SSUBSCRIBE, Redis 7): a message goes to the shard owning the
 *    channel's slot only, not over the whole cluster bus. Every channel of a store carries the
 *    same hash tag, so one subscriber connection (to that shard's master) serves them all. When
 *    the master changes (failover, slot migration) the connection closes, Redis unsubscribes it,
 *    or (a master that hangs instead of dying) it stays open and silent: a watchdog on every slot
 *    map refresh catches that last case, by the slot's new owner or an unanswered PING. Either way
 *    the store reports "lost", finds the new owner, subscribes again and reports "restored".
 *  - Replication is asynchronous: a write acknowledged by a master that dies before its replica
 *    copied it is lost at failover (see SECURITY.md for what that means for each kind of key).
 */
import net from "node:net";
import tls from "node:tls";
import calculateSlot from "cluster-key-slot";
import { AbstractConnector, Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { DECREMENT_COMMAND, failFastOptions, INCREMENT_COMMAND, IoredisKeyValueStore, quitOrDisconnect, type IoredisStoreOptions } from "./ioredis-key-value-store.js";

export interface RedisClusterKeyValueStoreOptions extends IoredisStoreOptions {
  /** Seed nodes; the client discovers the others (CLUSTER SLOTS). */
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  /** TLS to every node (Node's default trust store; NODE_EXTRA_CA_CERTS adds a private CA). */
  tls?: boolean;
  /** How often the client re-reads the slot map on its own, besides on MOVED and lost nodes. Default 2000. */
  slotsRefreshIntervalMs?: number;
}

export class RedisClusterKeyValueStore extends IoredisKeyValueStore {
  readonly #cluster: Cluster;
  readonly #nodeOptions: RedisOptions;
  /** The slot every channel of this store hashes to (see channelName). */
  readonly #channelSlot: number;

  /** Connects, learns the slot map and checks that the cluster answers; throws (after releasing the connections) if not. */
  static async connect(options: RedisClusterKeyValueStoreOptions): Promise<RedisClusterKeyValueStore> {
    if (options.nodes.length === 0) throw new Error("no Redis Cluster nodes given");
    const { lazyConnect: _lazy, enableOfflineQueue: _queue, retryStrategy, ...failFast } = failFastOptions(options);
    const nodeOptions: ClusterOptions["redisOptions"] & RedisOptions = {
      ...failFast,
      username: options.username,
      password: options.password,
      tls: options.tls ? {} : undefined,
    };
    const cluster = new Cluster(options.nodes, {
      lazyConnect: true,
      // Node connections are made on first use, so they need their queue; the cluster's own
      // (commands issued before it is ready, or while it has lost every node) fails fast.
      enableOfflineQueue: false,
      clusterRetryStrategy: (attempt) => (retryStrategy as (n: number) => number)(attempt),
      slotsRefreshInterval: options.slotsRefreshIntervalMs ?? 2_000,
      slotsRefreshTimeout: options.connectTimeoutMs ?? 2_000,
      redisOptions: nodeOptions,
      scripts: { cypherIncrementInWindow: INCREMENT_COMMAND, cypherDecrementInWindow: DECREMENT_COMMAND },
    });
    const store = new RedisClusterKeyValueStore(options, cluster, { ...nodeOptions, ...failFastOptions(options) });
    try {
      await store.connectAndPing(cluster, "cluster commands");
    } catch (error) {
      cluster.disconnect();
      throw error;
    }
    return store;
  }

  private constructor(options: RedisClusterKeyValueStoreOptions, cluster: Cluster, nodeOptions: RedisOptions) {
    super(options, cluster, { publish: "spublish", subscribe: "ssubscribe", unsubscribe: "sunsubscribe", message: "smessage" });
    if (/[{}]/.test(this.keyPrefix)) throw new Error("on Redis Cluster the key prefix must not contain { or } (they decide the hash slot)");
    this.#cluster = cluster;
    this.#nodeOptions = nodeOptions;
    this.#channelSlot = calculateSlot(this.channelName(""));
    this.watch(cluster, "cluster commands");
    // Node-level errors (a node lost during a failover) are reported here, not as "error".
    cluster.on("node error", () => {});
  }

  /** `<prefix>{<prefix>channels}:<channel>`: one tag for all of them, distinct per deployment prefix. */
  protected override channelName(channel: string): string {
    return `${this.keyPrefix}{${this.keyPrefix}channels}:${channel}`;
  }

  protected override async deleteKeys(keys: string[]): Promise<void> {
    const bySlot = new Map<number, string[]>();
    for (const key of keys) {
      const slot = calculateSlot(key);
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), key]);
    }
    await Promise.all([...bySlot.values()].map((group) => this.#cluster.del(...group)));
  }

  /**
   * A plain connection that, at every (re)connect, goes to the master that owns the channels'
   * slot now. After a failover the slot map is re-read first, so the retry finds the promoted
   * replica instead of knocking on the dead master.
   */
  protected newSubscriber(): Redis {
    const cluster = this.#cluster;
    const slot = this.#channelSlot;
    const useTls = this.#nodeOptions.tls !== undefined;
    /** The node the subscriber connected to last ("host:port"). */
    let target: string | undefined;
    class SlotOwnerConnector extends AbstractConnector {
      constructor(options: unknown) {
        super((options as { disconnectTimeout?: number }).disconnectTimeout ?? 2_000);
      }
      connect(): Promise<net.Socket> {
        this.connecting = true;
        const owner = cluster.slots[slot]?.[0];
        target = owner;
        return new Promise((resolve, reject) => {
          process.nextTick(() => {
            if (!this.connecting) return reject(new Error("Connection is closed."));
            if (owner === undefined) return reject(new Error(`no Redis Cluster node owns slot ${slot} yet`));
            const at = owner.lastIndexOf(":");
            const target = { host: owner.slice(0, at), port: Number(owner.slice(at + 1)) };
            const stream = useTls ? tls.connect(target) : net.createConnection(target);
            stream.once("error", (error) => {
              this.firstError = error;
            });
            this.stream = stream;
            resolve(stream);
          });
        });
      }
    }
    const subscriber = new Redis({
      ...this.#nodeOptions,
      Connector: SlotOwnerConnector,
      autoResubscribe: false,
      connectionName: "cypher-subscriber",
      // Before each reconnect: the owner may have changed (that is usually why the connection closed).
      retryStrategy: (attempt) => {
        cluster.refreshSlotsCache();
        return Math.min(attempt * 100, 1_000);
      },
    });
    // Redis unsubscribes a shard channel itself when its slot moves away (ioredis emits "moved"):
    // re-read the slot map, then reconnect to the new owner.
    subscriber.on("moved", () => cluster.refreshSlotsCache(() => this.subscriptionDropped(subscriber)));
    const watchdog = this.#subscriberWatchdog(subscriber, () => target);
    cluster.on("refresh", watchdog);
    subscriber.once("end", () => cluster.off("refresh", watchdog));
    return subscriber;
  }

  /**
   * Runs after every slot map refresh (every slotsRefreshInterval while the cluster answers). A
   * master that hangs (a frozen host, a partition) neither closes the subscriber's connection
   * nor unsubscribes it: the connection stays "ready" and hears nothing, so without this the
   * broadcasts would stop silently, for good. Reconnects (to the owner in the fresh map) when
   * the slot has a new owner, or when the subscriber does not answer a PING within the command
   * timeout.
   */
  #subscriberWatchdog(subscriber: Redis, connectedTo: () => string | undefined): () => void {
    const cluster = this.#cluster;
    const slot = this.#channelSlot;
    let pinging = false;
    return () => {
      if (this.closed || subscriber.status === "end") return;
      const owner = cluster.slots[slot]?.[0];
      const target = connectedTo();
      if (owner !== undefined && target !== undefined && owner !== target) {
        this.logger?.warn("redis subscriber's slot has a new owner; reconnecting", { from: target, to: owner });
        this.subscriptionDropped(subscriber);
        return;
      }
      if (pinging || subscriber.status !== "ready") return;
      pinging = true;
      subscriber.ping().then(
        () => {
          pinging = false;
        },
        (error: unknown) => {
          pinging = false;
          if (this.closed || subscriber.status !== "ready") return;
          this.logger?.warn("redis subscriber did not answer PING; reconnecting", { error });
          this.subscriptionDropped(subscriber);
        },
      );
    };
  }

  protected closeCommands(): Promise<void> {
    return quitOrDisconnect(this.#cluster);
  }
}
