/**
 * Everything /metrics shows, in one prom-client registry per server (tests run several servers in
 * one process): Node's default process metrics, the RPC families of both ports (rpc-metrics.ts),
 * and Cypher's own `cypher_*` families, which implement the domain's DomainMetrics.
 *
 * prom-client's defaults include three gauges named `nodejs_active_*_total` that `promtool check
 * metrics` flags (a gauge with a counter's suffix); they are prom-client's names, left as they are.
 */
import { collectDefaultMetrics, Counter, type Metric, Registry } from "prom-client";
import type { DomainEvent, DomainMetrics, DomainSources } from "./domain-metrics.js";
import { type MetricFamily, RpcMetrics, type Sample } from "./rpc-metrics.js";
import type { Db } from "../storage/database.js";
import { pingDatabase } from "../storage/open-database.js";
import type { KeyValueStore } from "../storage/kv/key-value-store.js";
import { StorageProbe } from "./storage-probe.js";

export class CypherMetrics implements DomainMetrics {
  readonly registry = new Registry();
  readonly rpc = new RpcMetrics();
  readonly #count: Record<DomainEvent, () => void>;
  readonly #sources: DomainSources[] = [];
  #storage: { database: StorageProbe; kv: StorageProbe } | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const family of this.rpc.families()) this.#register(family);

    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers: [this.registry] });
    /** The increment of one labelled series, made once (and shown at 0 from the start). */
    const series = <L extends string>(c: Counter<L>, labels?: Partial<Record<L, string>>) => {
      const child = labels === undefined ? c : c.labels(labels);
      child.inc(0);
      return () => child.inc();
    };
    const both = (a: () => void, b: () => void) => () => {
      a();
      b();
    };
    const logins = counter("cypher_logins_total", "Login attempts by outcome: rate_limited (LoginInit refused), password_rejected (LoginFinish), second_factor_rejected (CreateSession), succeeded (a session was created).", ["outcome"]);
    const starts = counter("cypher_login_starts_total", "LoginInit calls answered. A wrong password never reaches the server: it shows as a start with no outcome.");
    const lockouts = counter("cypher_login_lockouts_total", "Usernames that ran out of login attempts for their window (counted once per lockout).");
    const caps = counter("cypher_second_factor_caps_total", "Second-factor attempt caps reached: a login token burnt (flow=login) or a pending account deleted at enrollment (flow=enrollment).", ["flow"]);
    const registrations = counter("cypher_registrations_total", "Registration steps by outcome: started (pending account created), completed (TOTP verified, account active), username_taken, second_factor_capped.", ["outcome"]);
    const reuse = counter("cypher_refresh_reuse_detections_total", "Refresh tokens presented again after the grace period (the session was revoked).");
    const revocations = counter("cypher_revocations_published_total", "Revocations announced to every instance (one per revoking action).");
    this.#count = {
      "login.started": series(starts),
      "login.rate_limited": series(logins, { outcome: "rate_limited" }),
      "login.locked_out": series(lockouts),
      "login.password_rejected": series(logins, { outcome: "password_rejected" }),
      "login.second_factor_rejected": series(logins, { outcome: "second_factor_rejected" }),
      "login.second_factor_capped": series(caps, { flow: "login" }),
      "login.succeeded": series(logins, { outcome: "succeeded" }),
      "registration.started": series(registrations, { outcome: "started" }),
      "registration.username_taken": series(registrations, { outcome: "username_taken" }),
      "registration.completed": series(registrations, { outcome: "completed" }),
      // A capped enrollment is both a registration outcome and a second-factor cap.
      "registration.second_factor_capped": both(series(registrations, { outcome: "second_factor_capped" }), series(caps, { flow: "enrollment" })),
      "refresh.reuse_detected": series(reuse),
      "revocation.published": series(revocations),
    };

    const read = <T>(pick: (s: DomainSources) => (() => T) | undefined, sum: (values: T[]) => Sample[]): (() => Sample[]) => () => {
      const values = this.#sources.map(pick).filter((f): f is () => T => f !== undefined).map((f) => f());
      return values.length === 0 ? [] : sum(values);
    };
    const total = <T>(values: T[], field: (v: T) => number): Sample[] => [{ value: values.reduce((n, v) => n + field(v), 0), labels: {} }];
    const opaque = (field: "threads" | "busy" | "queued" | "busySeconds") =>
      read((s) => s.opaquePool, (values) => total(values, (v) => v[field]));
    const cache = (field: "hits" | "misses" | "entries") => read((s) => s.verifiedTokenCache, (values) => total(values, (v) => v[field]));
    const families: MetricFamily[] = [
      { name: "cypher_opaque_worker_threads", help: "OPAQUE worker threads running.", type: "gauge", samples: opaque("threads") },
      { name: "cypher_opaque_busy_workers", help: "OPAQUE worker threads running a call now.", type: "gauge", samples: opaque("busy") },
      { name: "cypher_opaque_queued_calls", help: "OPAQUE calls waiting for a worker (the queue depth).", type: "gauge", samples: opaque("queued") },
      {
        name: "cypher_opaque_worker_busy_seconds_total",
        help: "Seconds OPAQUE workers spent running calls; its rate divided by cypher_opaque_worker_threads is the pool's utilisation.",
        type: "counter",
        samples: opaque("busySeconds"),
      },
      { name: "cypher_verified_token_cache_hits_total", help: "Access tokens found in the verified-token cache (no signature check).", type: "counter", samples: cache("hits") },
      { name: "cypher_verified_token_cache_misses_total", help: "Access tokens not in the verified-token cache (signature checked).", type: "counter", samples: cache("misses") },
      { name: "cypher_verified_token_cache_entries", help: "Access tokens held in the verified-token cache.", type: "gauge", samples: cache("entries") },
      {
        name: "cypher_revocation_watch_streams",
        help: "WatchRevocations streams open (both ports).",
        type: "gauge",
        samples: read((s) => s.revocationWatchStreams, (values) => total(values, (v) => v)),
      },
    ];
    for (const family of families) this.#register(family);

    // One probe per scrape, shared by a backend's two families.
    let reading: Promise<{ database: Awaited<ReturnType<StorageProbe["read"]>>; kv: Awaited<ReturnType<StorageProbe["read"]>> }> | undefined;
    const probe = (which: "database" | "kv", field: "up" | "seconds") => async (): Promise<Sample[]> => {
      const storage = this.#storage;
      if (storage === undefined) return [];
      reading ??= Promise.all([storage.database.read(), storage.kv.read()]).then(([database, kv]) => {
        reading = undefined;
        return { database, kv };
      });
      const r = (await reading)[which];
      return [{ value: field === "up" ? Number(r.up) : r.seconds, labels: {} }];
    };
    this.#register({ name: "cypher_database_up", help: "Whether PostgreSQL answered a query within the probe's timeout at this scrape (1) or not (0).", type: "gauge", samples: probe("database", "up") });
    this.#register({ name: "cypher_database_ping_seconds", help: "How long PostgreSQL took to answer the probe's query at this scrape (NaN when it did not).", type: "gauge", samples: probe("database", "seconds") });
    this.#register({ name: "cypher_kv_up", help: "Whether the KV store (Redis, or in-process) answered a ping within the probe's timeout at this scrape (1) or not (0).", type: "gauge", samples: probe("kv", "up") });
    this.#register({ name: "cypher_kv_ping_seconds", help: "How long the KV store took to answer the probe's ping at this scrape (NaN when it did not).", type: "gauge", samples: probe("kv", "seconds") });
  }

  count(event: DomainEvent): void {
    this.#count[event]();
  }

  watch(sources: DomainSources): void {
    this.#sources.push(sources);
  }

  /** Starts probing storage at each scrape (once it is open): a `select 1`, and the KV store's ping. */
  watchStorage(storage: { db: Db; kv: KeyValueStore }, timeoutMs?: number): void {
    this.#storage = {
      database: new StorageProbe(() => pingDatabase(storage.db), timeoutMs),
      kv: new StorageProbe(() => storage.kv.ping(), timeoutMs),
    };
  }

  /** The text a scrape returns, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** A family whose samples are read at scrape time, in the shape prom-client's registry formats. */
  #register(family: MetricFamily): void {
    const metric = {
      name: family.name,
      help: family.help,
      type: family.type,
      aggregator: "sum",
      get: async () => ({ name: family.name, help: family.help, type: family.type, aggregator: "sum", values: await family.samples() }),
      reset: () => {},
    };
    this.registry.registerMetric(metric as unknown as Metric);
  }
}
