/**
 * cypher.account.v1.AccountService: the Bearer check, request parsing and the protobuf mapping
 * around the domain steps in this folder. See account-module.ts for the wiring.
 *
 * Every RPC first authenticates the Bearer access token through the same session liveness as
 * Logout and ListSessions (a live session, on every instance's view of revocations); the caller
 * is that session and its account.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { AccountSchema, type AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { invalidArgument, unauthenticated } from "../errors.js";
import { bearerToken } from "../session/bearer.js";
import { clearRefreshCookie, isWebClient } from "../session/refresh-cookie.js";
import { parseSecondFactor } from "../session/second-factor.js";
import type { SessionLiveness } from "../session/liveness/index.js";
import { requestMeta } from "../transport/request-meta.js";
import type { AccountDeps, Caller } from "../account/account-deps.js";
import { findAccountView } from "../storage/user-store.js";
import { changePasswordFinish, changePasswordInit } from "../account/change-password.js";
import { deleteOwnAccount } from "../account/delete-account.js";
import { reauthenticate } from "../account/reauthenticate.js";
import { regenerateRecoveryCodes } from "../account/regenerate-recovery-codes.js";
import { replaceTotpFinish, replaceTotpInit } from "../account/replace-totp.js";

export function createAccountService(deps: AccountDeps, liveness: Pick<SessionLiveness, "sessionFor">): ServiceImpl<typeof AccountService> {
  const callerOf = async (ctx: HandlerContext): Promise<Caller> => {
    const session = await liveness.sessionFor(bearerToken(ctx.requestHeader));
    return { sessionId: session.id, userId: session.userId, username: session.username };
  };

  return {
    async getAccount(_req, ctx) {
      const caller = await callerOf(ctx);
      const view = await findAccountView(deps.db, caller.userId);
      // A live session of an account that is gone: it was deleted a moment ago.
      if (!view) throw unauthenticated("TOKEN_REVOKED");
      return {
        account: create(AccountSchema, {
          userId: view.id,
          username: view.username,
          createdAt: timestampFromDate(view.createdAt),
          passwordChangedAt: view.passwordChangedAt ? timestampFromDate(view.passwordChangedAt) : undefined,
          totpEnrolledAt: view.totpEnrolledAt ? timestampFromDate(view.totpEnrolledAt) : undefined,
          recoveryCodesRemaining: view.recoveryCodesRemaining,
        }),
      };
    },

    async reauthenticate(req, ctx) {
      const caller = await callerOf(ctx);
      if (req.loginToken === "") throw invalidArgument({ field: "login_token", description: "is required (from AuthService.LoginFinish)" });
      const factor = parseSecondFactor(req.secondFactor);
      const issued = await reauthenticate(deps, caller, { loginToken: req.loginToken, factor }, requestMeta(ctx));
      return { reauthToken: issued.token, reauthTokenExpiresAt: timestampFromDate(issued.expiresAt) };
    },

    async changePasswordInit(req, ctx) {
      return changePasswordInit(deps, await callerOf(ctx), req);
    },

    async changePasswordFinish(req, ctx) {
      await changePasswordFinish(deps, await callerOf(ctx), req, requestMeta(ctx));
      return {};
    },

    async replaceTotpInit(req, ctx) {
      return replaceTotpInit(deps, await callerOf(ctx), req);
    },

    async replaceTotpFinish(req, ctx) {
      await replaceTotpFinish(deps, await callerOf(ctx), req, requestMeta(ctx));
      return {};
    },

    async regenerateRecoveryCodes(req, ctx) {
      return { recoveryCodes: await regenerateRecoveryCodes(deps, await callerOf(ctx), req, requestMeta(ctx)) };
    },

    async deleteAccount(req, ctx) {
      await deleteOwnAccount(deps, await callerOf(ctx), req, requestMeta(ctx));
      // Browser mode: the session is gone, so is its refresh cookie.
      if (isWebClient(ctx.requestHeader)) clearRefreshCookie(ctx.responseHeader);
      return {};
    },
  };
}
