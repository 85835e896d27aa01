/**
 * AdminService (the operator API, internal port only): maps messages to the account domain
 * (account/: locks, ending sessions, deletion), the admin keys and page tokens (admin/) and the
 * read-only repositories (storage/user-directory.ts, storage/audit-log.ts) and back.
 *
 * Every call first proves an admin key (admin-authenticator.ts); nothing is read or validated
 * before that, so an unauthenticated caller learns nothing, not even which ids are well formed.
 * Every call is then audited with the key's fingerprint ("operator"): changes in the same
 * transaction as the change, reads once they have succeeded.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { type AdminService, type User, UserSchema, UserState } from "../../gen/cypher/admin/v1/admin_pb.js";
import type { Actor } from "../account/actor.js";
import { deleteAccount } from "../account/delete-account.js";
import { revokeAccountSessions } from "../account/end-account-sessions.js";
import { lockAccount, MAX_LOCK_REASON_CHARS, unlockAccount } from "../account/lock-account.js";
import type { AdminAuthenticator } from "../admin/admin-authenticator.js";
import { pageSize, type PageTokens } from "../admin/page-token.js";
import { normalizeUsername, tryNormalizeUsernamePrefix } from "../auth/username.js";
import type { Clock } from "../clock.js";
import { hasUnsafeCharacters } from "../display-text.js";
import { invalidArgument, notFound } from "../errors.js";
import type { Revocations } from "../session/liveness/index.js";
import { isUuid } from "../session/session-record.js";
import { listAuditEvents, recordAudit } from "../storage/audit-log.js";
import type { Db } from "../storage/database.js";
import { requestMeta } from "../transport/request-meta.js";
import { findUserById, findUserByUsername, listUsers, type UserView } from "../storage/user-directory.js";

export interface AdminDeps {
  db: Db;
  clock: Clock;
  authenticator: AdminAuthenticator;
  revocations: Revocations;
  pageTokens: PageTokens;
}

/** A user id from a request: lower-cased UUID, else InvalidArgument on `field`. */
function userIdOf(raw: string, field = "user_id"): string {
  const id = raw.trim().toLowerCase();
  if (id === "") throw invalidArgument({ field, description: "required" });
  if (!isUuid(id)) throw invalidArgument({ field, description: "must be a user id (UUID)" });
  return id;
}

function usernamePrefixOf(raw: string): string {
  const prefix = tryNormalizeUsernamePrefix(raw);
  if (prefix === null) {
    throw invalidArgument({ field: "username_prefix", description: "must be the start of a username: letters, digits, '.', '_', '-' or '@'" });
  }
  return prefix;
}

function userMessage(user: UserView): User {
  return create(UserSchema, {
    userId: user.id,
    username: user.username,
    state: user.lock !== null ? UserState.LOCKED : user.status === "pending" ? UserState.PENDING : UserState.ACTIVE,
    createdAt: timestampFromDate(user.createdAt),
    passwordChangedAt: timestampFromDate(user.passwordChangedAt),
    activeSessions: Math.min(user.activeSessions, 2 ** 31 - 1),
    lockedAt: user.lock ? timestampFromDate(user.lock.lockedAt) : undefined,
    lockReason: user.lock?.reason ?? "",
  });
}

export function createAdminService(deps: AdminDeps): ServiceImpl<typeof AdminService> {
  const { db, clock } = deps;

  /** Authenticates the call; the actor for its audit entries and the key's fingerprint. */
  const operator = (ctx: HandlerContext): Actor & { fingerprint: string } => {
    const { fingerprint } = deps.authenticator.authenticate(ctx.requestHeader);
    const meta = requestMeta(ctx);
    return { ip: meta.ip, userAgent: meta.userAgent, details: { by: "operator", operator: fingerprint }, fingerprint };
  };

  const auditRead = (actor: Actor, event: "admin.user_viewed" | "admin.users_listed" | "admin.audit_events_listed", userId: string | null, details: Record<string, string | number | boolean | null>) =>
    recordAudit(db, { at: clock.now(), event, userId, ip: actor.ip, userAgent: actor.userAgent, details: { ...actor.details, ...details } });

  return {
    async getUser(req, ctx) {
      const actor = operator(ctx);
      const now = clock.now();
      let user: UserView | undefined;
      switch (req.who.case) {
        case "userId":
          user = await findUserById(db, userIdOf(req.who.value), now);
          break;
        case "username":
          user = await findUserByUsername(db, normalizeUsername(req.who.value), now);
          break;
        default:
          throw invalidArgument({ field: "who", description: "set user_id or username" });
      }
      if (!user) throw notFound("user not found");
      await auditRead(actor, "admin.user_viewed", user.id, {});
      return { user: userMessage(user) };
    },

    async listUsers(req, ctx) {
      const actor = operator(ctx);
      const limit = pageSize(req.pageSize);
      const prefix = usernamePrefixOf(req.usernamePrefix);
      const after = deps.pageTokens.decode(req.pageToken, "users", prefix);
      if (after !== undefined && typeof after !== "string") throw invalidArgument({ field: "page_token", description: "is not a page token from this list" });
      const page = await listUsers(db, { limit, prefix, afterUsername: after, now: clock.now() });
      const last = page.users.at(-1);
      await auditRead(actor, "admin.users_listed", null, { username_prefix: prefix, users: page.users.length });
      return {
        users: page.users.map(userMessage),
        nextPageToken: page.more && last ? deps.pageTokens.encode("users", prefix, last.username) : "",
      };
    },

    async lockUser(req, ctx) {
      const actor = operator(ctx);
      const userId = userIdOf(req.userId);
      if ([...req.reason].length > MAX_LOCK_REASON_CHARS) {
        throw invalidArgument({ field: "reason", description: `must be at most ${MAX_LOCK_REASON_CHARS} characters` });
      }
      if (hasUnsafeCharacters(req.reason)) {
        throw invalidArgument({ field: "reason", description: "must not contain control or bidirectional-override characters" });
      }
      const revoked = await lockAccount(
        { db, clock, revocations: deps.revocations },
        { userId, reason: req.reason, lockedBy: actor.fingerprint, actor },
      );
      return { revokedSessions: revoked };
    },

    async unlockUser(req, ctx) {
      const actor = operator(ctx);
      await unlockAccount({ db, clock }, { userId: userIdOf(req.userId), actor });
      return {};
    },

    async revokeUserSessions(req, ctx) {
      const actor = operator(ctx);
      const revoked = await revokeAccountSessions({ db, clock, revocations: deps.revocations }, { userId: userIdOf(req.userId), actor });
      return { revoked };
    },

    async deleteUser(req, ctx) {
      const actor = operator(ctx);
      await deleteAccount({ db, clock, revocations: deps.revocations }, { userId: userIdOf(req.userId), actor });
      return {};
    },

    async listAuditEvents(req, ctx) {
      const actor = operator(ctx);
      // A deleted account's trail stays readable: an unknown id is an empty list, not NotFound.
      const userId = req.userId.trim() === "" ? undefined : userIdOf(req.userId);
      const limit = pageSize(req.pageSize);
      const filter = userId ?? "";
      const before = deps.pageTokens.decode(req.pageToken, "audit", filter);
      if (before !== undefined && (typeof before !== "string" || !/^\d{1,19}$/.test(before))) {
        throw invalidArgument({ field: "page_token", description: "is not a page token from this list" });
      }
      const page = await listAuditEvents(db, { userId, limit, beforeId: before });
      await auditRead(actor, "admin.audit_events_listed", userId ?? null, { events: page.events.length });
      const last = page.events.at(-1);
      return {
        events: page.events.map((e) => ({
          eventId: e.id,
          type: e.event,
          userId: e.userId ?? "",
          occurredAt: timestampFromDate(e.at),
          clientAddress: e.ip ?? "",
          userAgent: e.userAgent ?? "",
          sessionId: e.sessionId ?? "",
          username: e.username ?? "",
          details: e.details as never,
        })),
        nextPageToken: page.more && last ? deps.pageTokens.encode("audit", filter, last.id) : "",
      };
    },
  };
}
