/**
 * What the domain tells the metrics, without knowing how they are kept: events to count, and
 * sources read at each scrape. Domain code calls `ctx.metrics?.count(...)`; the Prometheus side
 * (cypher-metrics.ts) implements it. Tests and tools that build an AppContext without metrics get
 * nothing counted and need nothing set up.
 */

/** One counted event; cypher-metrics.ts says which family and label each one is. */
export type DomainEvent =
  /** A LoginInit answered (KE2 sent). A wrong password is never seen by the server: it is a start without a finish. */
  | "login.started"
  /** A LoginInit refused by the attempt limits (per username, per IP, backoff). */
  | "login.rate_limited"
  /** A username ran out of LoginInit attempts for its window (the first refusal only). */
  | "login.locked_out"
  /** LoginFinish refused the key exchange (or the account is not active). */
  | "login.password_rejected"
  /** CreateSession refused a TOTP or recovery code. */
  | "login.second_factor_rejected"
  /** A login token was burnt by too many wrong second factors. */
  | "login.second_factor_capped"
  /** CreateSession made a session: a whole login. */
  | "login.succeeded"
  /** RegisterFinish made a pending account. */
  | "registration.started"
  /** RegisterInit refused a username that is taken. */
  | "registration.username_taken"
  /** VerifyTotpSetup activated an account. */
  | "registration.completed"
  /** A pending account was deleted after too many wrong TOTP codes at enrollment. */
  | "registration.second_factor_capped"
  /** A refresh token presented again after its grace period: its session was revoked. */
  | "refresh.reuse_detected"
  /** A revocation announced to every instance (one message, any number of sessions). */
  | "revocation.published";

/** Figures read when metrics are scraped. Each is summed over the sources registered. */
export interface DomainSources {
  /** The OPAQUE worker pool (opaque-worker-pool.ts stats()). */
  opaquePool?: () => { threads: number; busy: number; queued: number; busySeconds: number };
  /** The verified-token cache (verified-token-cache.ts): lookups that hit and missed so far, entries now. */
  verifiedTokenCache?: () => { hits: number; misses: number; entries: number };
  /** Open WatchRevocations streams (both ports: they share one feed). */
  revocationWatchStreams?: () => number;
}

export interface DomainMetrics {
  count(event: DomainEvent): void;
  /** Registers sources to be read at each scrape. */
  watch(sources: DomainSources): void;
}
