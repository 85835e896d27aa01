/**
 * WatchRevocations: revoked session ids from every instance, with a resume point.
 *
 * PostgreSQL is the source (revocation-log.ts numbers revoking transactions in commit order); the
 * broadcast channel only says "there is something new". One feed per instance follows the tail of
 * that log, one query per wake-up however many streams are open, woken by every revocation this
 * instance hears of, by the broadcast coming back after an interruption, and every
 * `pollIntervalMs` in case a broadcast was lost. Each stream then:
 *
 *   1. attaches to the feed (from now on it hears every revocation numbered above the feed's tail);
 *   2. catches up from PostgreSQL: everything numbered above its cursor and recent enough to matter
 *      (within the liveness module's revocation window: older revocations can only refuse tokens
 *      that have expired anyway);
 *   3. says it has caught up, then forwards what the feed delivers, skipping anything numbered at
 *      or below what it already sent: no gap (the feed covers everything after its tail, the
 *      catch-up everything committed before it ran, which includes the tail) and no duplicate.
 *
 * The cursor is the number of the last revocation sent ("rv1.<n>"): resuming from it sends exactly
 * what came after.
 */
import { invalidArgument, unavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Db } from "../storage/database.js";
import type { SessionLiveness } from "./liveness/index.js";
import { latestRevocationSeq, type RevocationEvent } from "./revocation-log.js";

export const DEFAULT_REVOCATION_POLL_INTERVAL_MS = 5_000;
/** A stream whose client reads this far behind the feed is ended (UNAVAILABLE: resume from the cursor). */
const MAX_QUEUED_EVENTS = 10_000;

const CURSOR_PREFIX = "rv1.";

export function formatCursor(seq: bigint): string {
  return CURSOR_PREFIX + seq.toString();
}

/** The revocation number in a cursor; null for the empty cursor; InvalidArgument if malformed. */
export function parseCursor(cursor: string): bigint | null {
  if (cursor === "") return null;
  const digits = cursor.startsWith(CURSOR_PREFIX) ? cursor.slice(CURSOR_PREFIX.length) : "";
  if (!/^\d{1,19}$/.test(digits) || BigInt(digits) > 9_223_372_036_854_775_807n) {
    throw invalidArgument({ field: "cursor", description: "must be a cursor from an earlier WatchRevocationsResponse, or empty" });
  }
  return BigInt(digits);
}

export type WatchEvent = { kind: "revoked"; event: RevocationEvent } | { kind: "caught_up"; seq: bigint };

type FeedListener = (events: RevocationEvent[]) => void;

export class RevocationFeed {
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #liveness: Pick<SessionLiveness, "recentRevocations">;
  readonly #pollIntervalMs: number;
  readonly #listeners = new Set<FeedListener>();
  /** Every revocation numbered up to here has been handed to the listeners of its time. */
  #tail: bigint | undefined;
  #initializing: Promise<bigint> | undefined;
  #reading: Promise<void> | undefined;
  #readAgain = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #stopListening: () => void;
  /** Aborted by endStreams()/close(): every stream ends. */
  #streamsEnd = new AbortController();

  constructor(options: { db: Db; logger: Logger; liveness: Pick<SessionLiveness, "listen" | "recentRevocations">; pollIntervalMs?: number }) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#liveness = options.liveness;
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_REVOCATION_POLL_INTERVAL_MS;
    this.#stopListening = options.liveness.listen((notice) => {
      if (notice.kind !== "lost") this.#wake();
    });
  }

  /** Number of open streams (for tests and metrics). */
  get streams(): number {
    return this.#listeners.size;
  }

  /**
   * Revocations after `cursor` (null: everything recent enough to matter), then a `caught_up`
   * marker, then each new one as it commits, until `signal` aborts or the feed ends its streams.
   * With `userId`, only that account's sessions, and no event for a revocation of others'.
   */
  async *watch(cursor: bigint | null, signal: AbortSignal, options: { userId?: string } = {}): AsyncGenerator<WatchEvent> {
    const { userId } = options;
    const ended = this.#streamsEnd.signal;
    const queue: RevocationEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvents: FeedListener = (events) => {
      if (userId === undefined) {
        queue.push(...events);
      } else {
        for (const event of events) {
          const own = ownedBy(event, userId);
          if (own !== null) queue.push(own);
        }
      }
      wake?.();
    };
    const onEnd = () => wake?.();
    signal.addEventListener("abort", onEnd);
    ended.addEventListener("abort", onEnd);
    const tail = await this.#attach(onEvents);
    try {
      let sent = cursor ?? 0n;
      if (sent > tail && sent > (await latestRevocationSeq(this.#db))) {
        // A cursor from the future (the database was restored from a backup?): start over rather
        // than wait for numbers that will mean other revocations.
        this.#logger.warn("WatchRevocations cursor is ahead of the revocation log; replaying the recent window");
        sent = 0n;
      }
      for await (const events of this.#liveness.recentRevocations(sent, { userId })) {
        for (const event of events) {
          if (signal.aborted || ended.aborted) return;
          yield { kind: "revoked", event };
          sent = event.seq;
        }
      }
      // Everything numbered up to the tail committed before the catch-up ran: covered by it.
      if (tail > sent) sent = tail;
      yield { kind: "caught_up", seq: sent };

      for (;;) {
        while (queue.length > 0) {
          if (queue.length > MAX_QUEUED_EVENTS) throw unavailable("the revocation stream fell behind; resume from the last cursor");
          const event = queue.shift()!;
          if (event.seq <= sent) continue;
          if (signal.aborted || ended.aborted) return;
          yield { kind: "revoked", event };
          sent = event.seq;
        }
        if (signal.aborted || ended.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onEnd);
      ended.removeEventListener("abort", onEnd);
      this.#detach(onEvents);
    }
  }

  /** Ends every open stream normally (shutdown: clients resume elsewhere from their cursor). */
  endStreams(): void {
    this.#streamsEnd.abort();
    this.#streamsEnd = new AbortController();
  }

  close(): void {
    this.#stopListening();
    this.#streamsEnd.abort();
    this.#listeners.clear();
    this.#stopPolling();
  }

  /** Adds a listener; returns the tail: every revocation numbered above it will reach the listener. */
  async #attach(listener: FeedListener): Promise<bigint> {
    if (this.#tail === undefined) {
      this.#initializing ??= latestRevocationSeq(this.#db).finally(() => (this.#initializing = undefined));
      const latest = await this.#initializing;
      // A read that finished meanwhile may have moved the tail on; never move it back.
      if (this.#tail === undefined || this.#tail < latest) this.#tail = latest;
    }
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#wake(), this.#pollIntervalMs);
      this.#timer.unref();
    }
    return this.#tail;
  }

  #detach(listener: FeedListener): void {
    this.#listeners.delete(listener);
    if (this.#listeners.size > 0) return;
    this.#stopPolling();
    // Nobody follows the tail now; the next stream starts from the latest number again.
    this.#tail = undefined;
  }

  #stopPolling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads the log's tail now, or again right after the read in progress. */
  #wake(): void {
    if (this.#listeners.size === 0) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = this.#readTail().finally(() => {
      this.#reading = undefined;
      if (this.#readAgain) {
        this.#readAgain = false;
        this.#wake();
      }
    });
  }

  async #readTail(): Promise<void> {
    try {
      if (this.#tail === undefined) return;
      for await (const page of this.#liveness.recentRevocations(this.#tail)) {
        // The tail may have been reset and set again while the query ran: only ever move forward.
        const tail: bigint | undefined = this.#tail;
        const events: RevocationEvent[] = tail === undefined ? [] : page.filter((e) => e.seq > tail);
        if (events.length > 0) {
          this.#tail = events.at(-1)!.seq;
          for (const listener of [...this.#listeners]) listener(events);
        }
        if (this.#tail === undefined || this.#listeners.size === 0) break;
      }
    } catch (error) {
      // PostgreSQL is unreachable: the next wake-up (at the latest the next poll) tries again.
      this.#logger.warn("could not read new revocations", { error });
    }
  }
}

/** The part of `event` that concerns `userId`'s sessions; null when none does. */
function ownedBy(event: RevocationEvent, userId: string): RevocationEvent | null {
  const sessionIds = event.sessionIds.filter((_, i) => event.userIds[i] === userId);
  if (sessionIds.length === 0) return null;
  return { seq: event.seq, revokedAt: event.revokedAt, sessionIds, userIds: sessionIds.map(() => userId) };
}
