/**
 * Domain values -> the protobuf messages of cypher.session.v1.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SessionSchema, TokenPairSchema, type Session, type TokenPair } from "../../gen/cypher/session/v1/session_pb.js";
import type { SessionRecord } from "../session/session-record.js";
import type { TokenPairTokens } from "../session/session-tokens.js";

export function sessionMessage(session: SessionRecord, current: boolean): Session {
  return create(SessionSchema, {
    sessionId: session.id,
    userId: session.userId,
    username: session.username,
    createdAt: timestampFromDate(session.createdAt),
    expiresAt: timestampFromDate(session.expiresAt),
    lastRefreshedAt: session.lastRefreshedAt ? timestampFromDate(session.lastRefreshedAt) : undefined,
    deviceName: session.deviceName,
    current,
  });
}

/** The pair; `withRefreshToken` false for browser clients, which get it as a cookie instead. */
export function tokenPairMessage(tokens: TokenPairTokens, withRefreshToken: boolean): TokenPair {
  return create(TokenPairSchema, {
    accessToken: tokens.access.token,
    accessTokenExpiresAt: timestampFromDate(tokens.access.expiresAt),
    refreshToken: withRefreshToken ? tokens.refresh.token : "",
    refreshTokenExpiresAt: timestampFromDate(tokens.refresh.expiresAt),
  });
}
