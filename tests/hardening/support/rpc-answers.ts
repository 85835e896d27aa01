/**
 * What a hardened answer looks like: a code from the error table in docs/architecture.md (never Internal or Unknown,
 * except the transport's own "parse binary" answer to a body that is not the request message), and a
 * message with no stack trace, file path, SQL or internal detail.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** Codes any RPC may answer to any input: bad input, limits, and a request over readMaxBytes. */
export const ALWAYS_ALLOWED: readonly Code[] = [Code.InvalidArgument, Code.ResourceExhausted];

/** Codes each RPC may answer to malformed input, besides ALWAYS_ALLOWED (undefined = OK). */
export const ALLOWED_CODES: Record<string, readonly (Code | undefined)[]> = {
  RegisterInit: [undefined, Code.AlreadyExists],
  RegisterFinish: [undefined, Code.AlreadyExists, Code.FailedPrecondition, Code.Unauthenticated],
  SetupTotp: [Code.Unauthenticated, Code.FailedPrecondition],
  VerifyTotpSetup: [Code.Unauthenticated, Code.FailedPrecondition],
  LoginInit: [undefined],
  LoginFinish: [Code.Unauthenticated],
  CreateSession: [Code.Unauthenticated],
  VerifySession: [Code.Unauthenticated],
  RefreshSession: [Code.Unauthenticated],
  Logout: [Code.Unauthenticated],
  ListSessions: [Code.Unauthenticated],
  RevokeSession: [Code.Unauthenticated, Code.NotFound],
  GetPublicKeys: [undefined],
  // AccountService: every call needs a live session's Bearer token, which no generated case has.
  GetAccount: [Code.Unauthenticated],
  Reauthenticate: [Code.Unauthenticated],
  ChangePasswordInit: [Code.Unauthenticated],
  ChangePasswordFinish: [Code.Unauthenticated],
  ReplaceTotpInit: [Code.Unauthenticated],
  ReplaceTotpFinish: [Code.Unauthenticated],
  RegenerateRecoveryCodes: [Code.Unauthenticated],
  DeleteAccount: [Code.Unauthenticated],
};

/**
 * The transport's answers to bytes that are not the request message at all (the allowed Internal):
 * a protobuf that does not decode, or an envelope flagged compressed without a grpc-encoding (the
 * gRPC spec's INTERNAL).
 */
export const PARSE_FAILURE_MESSAGE = /^(parse binary: |received compressed envelope, but do not know how to decompress$)/;

const LEAKS: Array<[string, RegExp]> = [
  ["stack trace", /\n\s+at |\bat .+:\d+:\d+/],
  ["file path", /\/(work|home|tmp|usr|node_modules|server|tests)\/|\.(ts|js|mjs):\d/],
  ["SQL", /\b(select|insert into|update .+ set|delete from|relation "|syntax error at|violates .* constraint|sqlstate)\b/i],
  ["driver detail", /\b(ECONNREFUSED|ioredis|kysely|pg-pool|pglite|TypeError|ReferenceError|RangeError|undefined is not|cannot read prop)/i],
  ["secret material", /k4\.(secret|local)\.|-----BEGIN|oprf|seed/i],
];

/** The reasons `message` must not be shown to a client (empty when it is fine). */
export function leaksIn(message: string): string[] {
  return LEAKS.filter(([, pattern]) => pattern.test(message)).map(([what]) => what);
}

export interface Verdict {
  ok: boolean;
  why?: string;
}

/** Judges one answer (`error` undefined: the call succeeded). */
export function judge(method: string, error: unknown): Verdict {
  const allowed = ALLOWED_CODES[method];
  if (!allowed) return { ok: false, why: `unknown method ${method}` };
  if (error === undefined) return allowed.includes(undefined) ? { ok: true } : { ok: false, why: `${method} succeeded on malformed input` };
  if (!(error instanceof ConnectError)) return { ok: false, why: `not a ConnectError: ${String(error)}` };
  const leaks = leaksIn(error.rawMessage);
  if (leaks.length > 0) return { ok: false, why: `${Code[error.code]} message leaks ${leaks.join(", ")}: ${error.rawMessage.slice(0, 300)}` };
  if (error.code === Code.Internal && PARSE_FAILURE_MESSAGE.test(error.rawMessage)) return { ok: true };
  if (ALWAYS_ALLOWED.includes(error.code) || allowed.includes(error.code)) return { ok: true };
  return { ok: false, why: `${method} answered ${Code[error.code]}: ${error.rawMessage.slice(0, 300)}` };
}
