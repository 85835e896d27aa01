/**
 * Attempt limits for LoginInit and registration, on KV counters (Redis with several instances).
 *
 * Why LoginInit: with OPAQUE a wrong password never reaches the server (the client fails to open
 * its envelope and sends no KE3), so every LoginInit is a password guess until a LoginFinish
 * succeeds. The design, per username (applied to unknown usernames exactly as to real ones, and
 * before the account is even looked up, so lockout reveals nothing about existence):
 *
 *  1. Budget: at most `loginFailuresPerUsername` LoginInits per fixed window of
 *     `loginFailureWindowSeconds` (default 10 per 15 min, ≤ 100 as NIST SP 800-63B requires). The
 *     next one is refused until the window ends, and that first refusal is audited as a lockout.
 *     A successful LoginFinish clears the budget and the backoff.
 *  2. Backoff: the first `loginBackoffFreeFailures` attempts (default 5) go through at once; from
 *     then on each attempt closes a gate for base·2^k (1 s, 2 s, 4 s, … capped at
 *     `loginBackoffMaxMs`), and an attempt arriving while the gate is closed is refused with the
 *     time left. A refusal at the gate does not spend the budget, so a client that honours
 *     RetryInfo loses nothing by having been early.
 *  3. Per client IP: at most `loginAttemptsPerIp` LoginInits per window, whatever the usernames.
 *  4. Known devices: a LoginInit that shows a valid device credential for the username (issued by
 *     CreateSession, see session/device-credential-store.ts) is counted against that device's own
 *     budget and backoff (same numbers) instead of the username's, so strangers exhausting the
 *     username's budget cannot lock the owner's devices out (OWASP "device cookies"). The per-IP
 *     limit applies to every call.
 *
 * Atomicity: the budget is decided on the result of an atomic increment, taken before any
 * expensive work, so N parallel attempts yield counts 1..N and exactly those ≤ the limit pass; the
 * gate is claimed with set-if-absent, so of parallel attempts past the free ones only one passes.
 *
 * Registration: RegisterInit and RegisterFinish are each limited per IP (`registrationsPerIp` per
 * `registrationIpWindowSeconds`); RegisterFinish needs its own counter because it can be called
 * without RegisterInit. TOTP enrollment is limited per enrollment in the database (see enrollment.ts).
 *
 * Keys hold a SHA-256 of the username (a typo'd password in the username box must not sit in Redis
 * in clear) and the client IP, IPv6 reduced to its /64 (one host usually owns the whole /64).
 */
import { createHash } from "node:crypto";
import { isIPv6 } from "node:net";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { resourceExhausted } from "../errors.js";
import type { KeyValueStore } from "../storage/kv/key-value-store.js";

export type LoginLimitSettings = Pick<
  Config["rateLimits"],
  | "loginFailuresPerUsername"
  | "loginFailureWindowSeconds"
  | "loginAttemptsPerIp"
  | "loginIpWindowSeconds"
  | "loginBackoffFreeFailures"
  | "loginBackoffBaseMs"
  | "loginBackoffMaxMs"
  | "registrationsPerIp"
  | "registrationIpWindowSeconds"
>;

export type AttemptOutcome =
  | { allowed: true }
  /** `lockedOutNow`: this refusal is the first one of the window (audit it once, not per attempt). */
  | { allowed: false; retryAfterMs: number; lockedOutNow: boolean };

const PREFIX = "auth:limit:";

function digest(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("base64url").slice(0, 22);
}

/** The part of a client address that identifies one client: the address, or an IPv6 /64. */
export function clientNetwork(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const zoneless = ip.split("%")[0] ?? ip;
  const [head = "", tail] = zoneless.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups; it only ever affects the low 64 bits.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - width(headGroups) - width(tailGroups)).fill("0"), ...tailGroups];
  return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

export class AttemptLimits {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly clock: Clock,
    private readonly settings: LoginLimitSettings,
  ) {}

  /**
   * The username's digest is the keys' hash tag: on Redis Cluster the budget and the gate (reset
   * together) share a slot, and different accounts spread over all slots.
   */
  static keys(username: string): { budget: string; gate: string } {
    const id = digest(username);
    return { budget: `${PREFIX}login:user:{${id}}`, gate: `${PREFIX}login:gate:{${id}}` };
  }

  /** A known device's own budget and gate (its device credential's id; see device-credential-store.ts). */
  static deviceKeys(deviceCredentialId: string): { budget: string; gate: string } {
    return { budget: `${PREFIX}login:device:{${deviceCredentialId}}`, gate: `${PREFIX}login:device-gate:{${deviceCredentialId}}` };
  }

  /** Both LoginInit limits in order: the client's IP, then the account's (or known device's) budget. */
  async checkLogin(username: string, ip: string, deviceCredentialId: string | null = null): Promise<AttemptOutcome> {
    const perIp = await this.checkLoginIp(ip);
    if (!perIp.allowed) return perIp;
    return this.checkLoginBudget(username, deviceCredentialId);
  }

  /** Counts one LoginInit from `ip` (whatever the username); refuses past the per-IP limit. */
  async checkLoginIp(ip: string): Promise<AttemptOutcome> {
    const s = this.settings;
    const perIp = await this.kv.increment(`${PREFIX}login:ip:${clientNetwork(ip)}`, s.loginIpWindowSeconds * 1000);
    if (perIp.count > s.loginAttemptsPerIp) return { allowed: false, retryAfterMs: perIp.ttlMs, lockedOutNow: false };
    return { allowed: true };
  }

  /**
   * Counts one LoginInit against the budget and backoff of `username`, or, when the caller showed a
   * valid device credential for that username, against that device's own budget, which strangers'
   * attempts on the username never touch.
   */
  async checkLoginBudget(username: string, deviceCredentialId: string | null = null): Promise<AttemptOutcome> {
    const s = this.settings;
    const keys = deviceCredentialId === null ? AttemptLimits.keys(username) : AttemptLimits.deviceKeys(deviceCredentialId);
    const nowMs = this.clock.now().getTime();
    const gate = await this.kv.get(keys.gate);
    if (gate !== null) {
      const openAtMs = Number(new TextDecoder().decode(gate));
      if (Number.isFinite(openAtMs) && openAtMs > nowMs) return { allowed: false, retryAfterMs: openAtMs - nowMs, lockedOutNow: false };
    }

    const budget = await this.kv.increment(keys.budget, s.loginFailureWindowSeconds * 1000);
    if (budget.count > s.loginFailuresPerUsername) {
      return { allowed: false, retryAfterMs: budget.ttlMs, lockedOutNow: budget.count === s.loginFailuresPerUsername + 1 };
    }
    if (budget.count >= s.loginBackoffFreeFailures && s.loginBackoffBaseMs > 0) {
      const delayMs = Math.min(s.loginBackoffMaxMs, s.loginBackoffBaseMs * 2 ** (budget.count - s.loginBackoffFreeFailures));
      const claimed = await this.kv.set(keys.gate, String(nowMs + delayMs), delayMs, { onlyIfAbsent: true });
      // Another attempt claimed the gate between our read and now: this one came too early.
      if (!claimed) return { allowed: false, retryAfterMs: delayMs, lockedOutNow: false };
    }
    return { allowed: true };
  }

  /**
   * After a successful login: the budget that login was counted against starts afresh (the known
   * device's own, or the username's). A device login leaves the username's budget alone, so the
   * owner logging in does not hand strangers a fresh set of guesses.
   */
  async resetLogin(username: string, deviceCredentialId: string | null = null): Promise<void> {
    const keys = deviceCredentialId === null ? AttemptLimits.keys(username) : AttemptLimits.deviceKeys(deviceCredentialId);
    await this.kv.del(keys.budget, keys.gate);
  }

  /** Counts one registration step (`init` or `finish`) from `ip`. */
  async checkRegistration(step: "init" | "finish", ip: string): Promise<AttemptOutcome> {
    const s = this.settings;
    const counter = await this.kv.increment(`${PREFIX}register-${step}:ip:${clientNetwork(ip)}`, s.registrationIpWindowSeconds * 1000);
    if (counter.count > s.registrationsPerIp) return { allowed: false, retryAfterMs: counter.ttlMs, lockedOutNow: false };
    return { allowed: true };
  }
}

/** Throws ResourceExhausted (with RetryInfo) for a refused attempt. */
export function enforce(outcome: AttemptOutcome): void {
  if (!outcome.allowed) throw resourceExhausted(Math.max(1, outcome.retryAfterMs));
}
