/**
 * RefreshSession: a refresh token is exchanged once for a new pair.
 *
 * Single use is enforced by PostgreSQL: `UPDATE refresh_tokens SET used_at = now WHERE id = jti
 * AND used_at IS NULL RETURNING` lets exactly one caller through; concurrent callers block on the
 * row lock and then find it used. The new refresh token's row records `replaces_id`, in the same
 * transaction that sets last_refreshed_at on a session that is still live (a revocation committed
 * first makes that update match nothing, and the rotation rolls back).
 *
 * Presenting a used token again:
 *  - within `refreshReuseGraceSeconds` of its use (two tabs, a retry after a lost response), and
 *    only while that successor is still unused: the SAME successor pair, re-signed byte for byte
 *    from the successor's row (see session-tokens.ts), audited as `session.refresh_grace_reissued`.
 *    Once the successor has been spent, the legitimate client has moved on, so whoever shows the
 *    old token again holds a copy: that is reuse, even within the grace;
 *  - later, or with the successor spent: theft. One of two parties holding that token chain is an attacker and we cannot tell
 *    which, so the whole session is revoked, `session.refresh_reuse_detected` audited, and the
 *    caller refused (TOKEN_REUSED).
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { unauthenticated } from "../errors.js";
import type { Logger } from "../logger.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { ClientContext } from "../client-context.js";
import type { DomainMetrics } from "../metrics/domain-metrics.js";
import type { Revocations } from "./liveness/index.js";
import type { SessionCache } from "./liveness/index.js";
import { sessionState, type SessionRecord } from "./session-record.js";
import { findSession, markSessionRefreshed } from "./session-store.js";
import { findRefreshToken, insertRefreshToken, lockSuccessorRefreshToken, spendRefreshToken } from "../storage/refresh-token-store.js";
import { tokenHash, type SessionTokens, type TokenPairTokens } from "./session-tokens.js";

export interface RefreshDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: Config["tokens"];
  sessionTokens: SessionTokens;
  cache: SessionCache;
  revocations: Revocations;
  metrics?: DomainMetrics;
}

export interface Refreshed {
  session: SessionRecord;
  tokens: TokenPairTokens;
  /** True when this is the successor pair handed out again within the grace period. */
  repeated: boolean;
}

/** Rolls the rotation back when the session is no longer live. */
class SessionNotLive extends Error {}

export async function refreshSession(deps: RefreshDeps, presented: string, meta: ClientContext): Promise<Refreshed> {
  const claims = await deps.sessionTokens.verifyRefresh(presented);
  const jti = claims.token.jti;
  const hash = tokenHash(presented);
  const now = deps.clock.now();

  let rotated: { session: SessionRecord; tokens: TokenPairTokens } | null;
  try {
    rotated = await deps.db.transaction().execute(async (trx) => {
      const spentGeneration = await spendRefreshToken(trx, { id: jti, sessionId: claims.sessionId, tokenHash: hash, at: now });
      if (spentGeneration === undefined) return null;
      const session = await markSessionRefreshed(trx, claims.sessionId, now);
      if (!session) throw new SessionNotLive();
      const username = session.username;
      const generation = spentGeneration + 1;
      const tokens = await deps.sessionTokens.issuePair(
        { sessionId: session.id, userId: session.userId, username, sessionExpiresAt: session.expiresAt },
        { jti: randomUUID(), generation, issuedAt: now },
      );
      await insertRefreshToken(trx, {
        id: tokens.refresh.jti,
        sessionId: session.id,
        generation,
        tokenHash: tokenHash(tokens.refresh.token),
        replacesId: jti,
        issuedAt: tokens.refresh.issuedAt,
        expiresAt: tokens.refresh.expiresAt,
      });
      await recordAudit(trx, {
        at: now,
        event: "session.refreshed",
        userId: session.userId,
        sessionId: session.id,
        username,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: { generation, jti: tokens.refresh.jti, replaces_jti: jti },
      });
      return { session, tokens };
    });
  } catch (error) {
    if (error instanceof SessionNotLive) throw await notLiveError(deps.db, claims.sessionId, now);
    throw error;
  }

  if (rotated) {
    // Best effort (PostgreSQL already has it): the cached copy gets the new last_refreshed_at.
    await deps.cache.replace(rotated.session).catch((error: unknown) => deps.logger.warn("could not update a cached session", { error }));
    return { ...rotated, repeated: false };
  }
  return presentedAgain(deps, { jti, sessionId: claims.sessionId, hash, now, meta });
}

/** Why a session can no longer be refreshed, as the caller is told. */
async function notLiveError(db: Db, sessionId: string, now: Date) {
  const session = await findSession(db, sessionId);
  return unauthenticated(session !== null && sessionState(session, now) === "expired" ? "TOKEN_EXPIRED" : "TOKEN_REVOKED");
}

/** A validly signed refresh token that could not be spent: unknown, or used before. */
async function presentedAgain(
  deps: RefreshDeps,
  p: { jti: string; sessionId: string; hash: Buffer; now: Date; meta: ClientContext },
): Promise<Refreshed> {
  const used = await findRefreshToken(deps.db, p.jti);
  if (!used || used.session_id !== p.sessionId || used.used_at === null || !sameBytes(used.token_hash, p.hash)) {
    throw unauthenticated("TOKEN_INVALID");
  }
  const session = await findSession(deps.db, p.sessionId);
  if (session === null) throw unauthenticated("TOKEN_REVOKED");
  const state = sessionState(session, p.now);
  if (state === "revoked") throw unauthenticated("TOKEN_REVOKED");
  if (state === "expired") throw unauthenticated("TOKEN_EXPIRED");

  const sinceUseMs = p.now.getTime() - used.used_at.getTime();
  if (sinceUseMs <= deps.config.refreshReuseGraceSeconds * 1000) {
    const again = await reissueUnusedSuccessor(deps, { ...p, session });
    if (again) return again;
  }

  // Reuse after the grace, or of a token whose successor is already spent: the whole session is
  // revoked, audited in the same transaction.
  await deps.revocations.revoke({
    sessionIds: [session.id],
    reason: "refresh_reuse",
    alsoAnnounce: [session.id],
    audit: (trx) =>
      recordAudit(trx, {
        at: p.now,
        event: "session.refresh_reuse_detected",
        userId: session.userId,
        sessionId: session.id,
        username: session.username,
        ip: p.meta.ip,
        userAgent: p.meta.userAgent,
        details: { jti: p.jti, generation: used.generation, seconds_since_use: Math.floor(sinceUseMs / 1000) },
      }),
  });
  deps.metrics?.count("refresh.reuse_detected");
  throw unauthenticated("TOKEN_REUSED");
}

/**
 * Within the grace: the presented token's immediate successor, re-signed, IF that successor has not
 * been spent. Its row is locked (FOR UPDATE) while checking and auditing, so a rotation of the
 * successor commits either before (then this is reuse) or after this answer. Null when there is no
 * unused successor: the caller treats the presentation as reuse.
 */
async function reissueUnusedSuccessor(
  deps: RefreshDeps,
  p: { jti: string; session: SessionRecord; now: Date; meta: ClientContext },
): Promise<Refreshed | null> {
  const { session } = p;
  return deps.db.transaction().execute(async (trx) => {
    const successor = await lockSuccessorRefreshToken(trx, p.jti);
    if (!successor || successor.used_at !== null) return null;
    const tokens = await deps.sessionTokens.issuePair(
      { sessionId: session.id, userId: session.userId, username: session.username, sessionExpiresAt: session.expiresAt },
      { jti: successor.id, generation: successor.generation, issuedAt: successor.issued_at },
    );
    if (!sameBytes(successor.token_hash, tokenHash(tokens.refresh.token))) {
      // Only a signing-key change within the grace period gets here; the re-signed token would
      // not be accepted later, so the caller is better off logging in again.
      deps.logger.warn("a successor refresh token could not be reproduced", { sessionId: session.id });
      throw unauthenticated("TOKEN_INVALID");
    }
    await recordAudit(trx, {
      at: p.now,
      event: "session.refresh_grace_reissued",
      userId: session.userId,
      sessionId: session.id,
      username: session.username,
      ip: p.meta.ip,
      userAgent: p.meta.userAgent,
      details: { jti: successor.id, generation: successor.generation, replaces_jti: p.jti },
    });
    return { session, tokens, repeated: true };
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
