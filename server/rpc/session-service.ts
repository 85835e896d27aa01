/**
 * cypher.session.v1.SessionService: request validation, the protobuf mapping, cookies and the
 * audit trail around the domain steps in this folder. See session-module.ts for the wiring.
 *
 * Conventions decided here:
 *  - an empty required field (login_token, access_token, session_id) is InvalidArgument;
 *  - no credential at all where one is needed (no Bearer header; RefreshSession with an empty
 *    refresh_token and no refresh cookie) is Unauthenticated TOKEN_INVALID, like a bad one;
 *  - browser cookie mode (`x-cypher-client: web`): see refresh-cookie.ts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  PublicKeySchema,
  VerifySessionResponseSchema,
  type SessionService,
  type VerifySessionResponse,
} from "../../gen/cypher/session/v1/session_pb.js";
import type { Clock } from "../clock.js";
import { invalidArgument, notFound, unauthenticated } from "../errors.js";
import { recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import type { TokenService } from "../tokens/token-service.js";
import { clientNetwork } from "../auth/attempt-limits.js";
import { requestMeta } from "../transport/request-meta.js";
import { bearerToken } from "../session/bearer.js";
import { createSession, type CreateSessionDeps } from "../session/create-session.js";
import { clearDeviceCookie, setDeviceCookie } from "../session/device-cookie.js";
import { revokeDeviceCredentials } from "../session/device-credential-store.js";
import { normalizeDeviceName } from "../session/device-name.js";
import { clearRefreshCookie, isWebClient, refreshTokenFromCookie, setRefreshCookie } from "../session/refresh-cookie.js";
import { refreshSession, type RefreshDeps } from "../session/refresh-rotation.js";
import { formatCursor, parseCursor, type RevocationFeed } from "../session/revocation-feed.js";
import { parseSecondFactor } from "../session/second-factor.js";
import type { SessionLiveness } from "../session/liveness/index.js";
import { sessionMessage, tokenPairMessage } from "./session-messages.js";
import { isUuid, type SessionRecord } from "../session/session-record.js";
import { listLiveSessions } from "../session/session-store.js";
import type { WatchStreamQuota } from "../session/watch-stream-quota.js";
import type { TokenPairTokens } from "../session/session-tokens.js";

export interface SessionServiceDeps {
  db: Db;
  clock: Clock;
  tokens: TokenService;
  liveness: SessionLiveness;
  feed: RevocationFeed;
  create: CreateSessionDeps;
  refresh: RefreshDeps;
}

/**
 * Whose revocations WatchRevocations streams:
 *  - "all": every session's, to anyone who can reach the port (the internal port: backends);
 *  - "account": the caller's own account's, to a caller with a Bearer access token, within the
 *    per-account and per-address stream caps (the public port: browsers and apps).
 */
export type RevocationScope = { kind: "all" } | { kind: "account"; quota: WatchStreamQuota };

export function createSessionService(deps: SessionServiceDeps, scope: RevocationScope): ServiceImpl<typeof SessionService> {
  const verifiedResponses = new WeakMap<SessionRecord, VerifySessionResponse>();
  const authenticateBearer = (ctx: HandlerContext): Promise<SessionRecord> => deps.liveness.sessionFor(bearerToken(ctx.requestHeader));

  /** The pair as the client gets it: in browser mode the refresh token travels as a cookie. */
  const deliverPair = (ctx: HandlerContext, tokens: TokenPairTokens) => {
    const web = isWebClient(ctx.requestHeader);
    if (web) setRefreshCookie(ctx.responseHeader, tokens.refresh.token, tokens.refresh.expiresAt, deps.clock.now());
    return tokenPairMessage(tokens, !web);
  };

  return {
    async createSession(req, ctx) {
      if (req.loginToken === "") throw invalidArgument({ field: "login_token", description: "is required" });
      const factor = parseSecondFactor(req.secondFactor);
      const deviceName = normalizeDeviceName(req.deviceName);
      const { session, tokens, deviceToken } = await createSession(deps.create, {
        loginToken: req.loginToken,
        factor,
        deviceName,
        meta: requestMeta(ctx),
      });
      // Browser mode: the device credential, like the refresh token, goes in an HttpOnly cookie.
      const web = isWebClient(ctx.requestHeader);
      if (web) setDeviceCookie(ctx.responseHeader, deviceToken.token, deviceToken.expiresAt, deps.clock.now());
      return { session: sessionMessage(session, true), tokens: deliverPair(ctx, tokens), deviceToken: web ? "" : deviceToken.token };
    },

    async verifySession(req) {
      if (req.accessToken === "") throw invalidArgument({ field: "access_token", description: "is required" });
      const session = await deps.liveness.sessionFor(req.accessToken);
      // The hot path: a session served from memory is the same object call after call, and so is its
      // answer. Frozen, so a transport may reuse its encoding too (server/grpc/service-definition.ts).
      let response = verifiedResponses.get(session);
      if (response === undefined) {
        response = Object.freeze(create(VerifySessionResponseSchema, { session: Object.freeze(sessionMessage(session, true)) }));
        verifiedResponses.set(session, response);
      }
      return response;
    },

    async refreshSession(req, ctx) {
      const presented = req.refreshToken !== "" ? req.refreshToken : isWebClient(ctx.requestHeader) ? refreshTokenFromCookie(ctx.requestHeader) : null;
      if (presented === null) throw unauthenticated("TOKEN_INVALID");
      const { session, tokens } = await refreshSession(deps.refresh, presented, requestMeta(ctx));
      return { session: sessionMessage(session, true), tokens: deliverPair(ctx, tokens) };
    },

    async logout(req, ctx) {
      const session = await authenticateBearer(ctx);
      const meta = requestMeta(ctx);
      const at = deps.clock.now();
      let devicesRevoked = 0;
      await deps.liveness.revoke({
        sessionIds: req.allSessions ? undefined : [session.id],
        userId: session.userId,
        reason: req.allSessions ? "logout_all" : "logout",
        alsoAnnounce: [session.id],
        // "Log out everywhere" also ends every device's own login budget, in the same transaction.
        alsoInTransaction: req.allSessions
          ? async (trx) => {
              devicesRevoked = await revokeDeviceCredentials(trx, { userId: session.userId, at });
            }
          : undefined,
        audit: (trx, revokedIds) =>
          recordAudit(trx, {
            at: deps.clock.now(),
            event: "session.logged_out",
            userId: session.userId,
            sessionId: session.id,
            username: session.username,
            ip: meta.ip,
            userAgent: meta.userAgent,
            details: { all_sessions: req.allSessions, sessions_ended: revokedIds.length, devices_revoked: devicesRevoked },
          }),
      });
      if (isWebClient(ctx.requestHeader)) {
        clearRefreshCookie(ctx.responseHeader);
        if (req.allSessions) clearDeviceCookie(ctx.responseHeader);
      }
      return {};
    },

    async listSessions(_req, ctx) {
      const current = await authenticateBearer(ctx);
      const sessions = await listLiveSessions(deps.db, current.userId, deps.clock.now());
      return { sessions: sessions.map((s) => sessionMessage(s, s.id === current.id)) };
    },

    async revokeSession(req, ctx) {
      const caller = await authenticateBearer(ctx);
      const target = req.sessionId.trim().toLowerCase();
      if (!isUuid(target)) throw invalidArgument({ field: "session_id", description: "must be a session id (UUID)" });
      const meta = requestMeta(ctx);
      // Confined to the caller's account: another account's session id is as unknown as a made-up one.
      const revoked = await deps.liveness.revoke({
        sessionIds: [target],
        userId: caller.userId,
        reason: "revoked",
        audit: async (trx, revokedIds) => {
          if (revokedIds.length === 0) return;
          await recordAudit(trx, {
            at: deps.clock.now(),
            event: "session.revoked",
            userId: caller.userId,
            sessionId: target,
            username: caller.username,
            ip: meta.ip,
            userAgent: meta.userAgent,
            details: { by_session: caller.id },
          });
        },
      });
      if (revoked.length === 0) throw notFound("session not found");
      return {};
    },

    async getPublicKeys() {
      return { keys: deps.tokens.publicKeys().map((k) => create(PublicKeySchema, k)) };
    },

    async *watchRevocations(req, ctx) {
      let userId: string | undefined;
      let ownSessionId: string | undefined;
      let release = () => {};
      if (scope.kind === "account") {
        const session = await authenticateBearer(ctx);
        userId = session.userId;
        ownSessionId = session.id;
        release = scope.quota.acquire(session.userId, clientNetwork(requestMeta(ctx).ip));
      }
      try {
        const cursor = parseCursor(req.cursor.trim());
        for await (const item of deps.feed.watch(cursor, ctx.signal, { userId })) {
          if (item.kind === "caught_up") {
            yield { sessionIds: [], cursor: formatCursor(item.seq), caughtUp: true };
          } else {
            const { event } = item;
            yield { sessionIds: event.sessionIds, revokedAt: timestampFromDate(event.revokedAt), cursor: formatCursor(event.seq) };
            // The caller's own session has ended: the credential this stream was opened with no
            // longer counts, so neither does the stream.
            if (ownSessionId !== undefined && event.sessionIds.includes(ownSessionId)) return;
          }
        }
      } finally {
        release();
      }
    },
  };
}
