/**
 * The signed-in user's own account changes (cypher.account.v1.AccountService), as the browser
 * drives them. Every change needs a fresh proof of both factors first (`stepUp`): the password
 * proven again by the ordinary OPAQUE login, then a TOTP or recovery code, which together buy a
 * reauth token for one change, bound to this session, for at most five minutes.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { changePassword as changeRegisteredPassword } from "../../../client/change-password.js";
import { AccountService, type Account } from "../../../gen/cypher/account/v1/account_pb.js";
import type { CypherClients } from "./clients.js";
import { FlowError } from "./flow-error.js";
import { login } from "./login.js";
import { withOpaqueFailures } from "./opaque-failure.js";
import { passwordProblem } from "./password.js";
import { normalizeRecoveryCodeInput } from "./recovery-code.js";
import { normalizeTotpCode, type TotpSetup } from "./register.js";

export type AccountClient = Client<typeof AccountService>;
export type { Account };

/** A second factor as the person typed it (validated by `stepUp`). */
export type StepUpFactor = { totpCode: string } | { recoveryCode: string };

/** A reauth token for one change. A secret: memory only. */
export interface ReauthProof {
  username: string;
  reauthToken: string;
  expiresAt: Date;
  /** The server's OPAQUE identity, from the step-up's LoginInit: a new password is registered under it. */
  serverIdentity: string;
}

/**
 * The Bearer header for AccountService, WITHOUT the session manager's refresh-and-retry: here an
 * Unauthenticated answer usually means a wrong code or a spent step-up token, and retrying would
 * count a wrong code twice. `accessToken()` still refreshes a token about to expire first.
 */
export function bearerInterceptor(accessToken: () => Promise<string>): Interceptor {
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${await accessToken()}`);
    return await next(req);
  };
}

export function createAccountClient(transport: Transport): AccountClient {
  return createClient(AccountService, transport);
}

export async function getAccount(account: AccountClient): Promise<Account | undefined> {
  return (await account.getAccount({})).account;
}

/**
 * Password (a full OPAQUE login, under the login limits), then Reauthenticate with the code.
 * Input problems are found before anything is sent, so a mistyped code costs no login attempt.
 */
export async function stepUp(clients: CypherClients, account: AccountClient, username: string, password: string, factor: StepUpFactor): Promise<ReauthProof> {
  const secondFactor =
    "totpCode" in factor
      ? ({ case: "totpCode", value: normalizeTotpCode(factor.totpCode) } as const)
      : ({ case: "recoveryCode", value: normalizeRecoveryCodeInput(factor.recoveryCode) } as const);
  if (password === "") throw new FlowError("wrong-credentials", "Enter your password.");
  const proof = await login(clients, username, password);
  const res = await account.reauthenticate({ loginToken: proof.loginToken, secondFactor });
  return {
    username: proof.username,
    reauthToken: res.reauthToken,
    expiresAt: res.reauthTokenExpiresAt ? timestampDate(res.reauthTokenExpiresAt) : new Date(Date.now() + 5 * 60_000),
    serverIdentity: proof.serverIdentity,
  };
}

/** A new OPAQUE registration under the same username; the old password stops working at once. */
export async function changePassword(
  account: AccountClient,
  proof: ReauthProof,
  newPassword: string,
  options: { keepOtherSessions: boolean },
): Promise<void> {
  const badPassword = passwordProblem(newPassword);
  if (badPassword !== null) throw new FlowError("invalid-password", badPassword);
  await withOpaqueFailures("change-password", () =>
    changeRegisteredPassword(account, {
      reauthToken: proof.reauthToken,
      username: proof.username,
      newPassword,
      serverIdentity: proof.serverIdentity,
      keepOtherSessions: options.keepOtherSessions,
    }),
  );
}

/** A new authenticator secret, pending until `confirmAuthenticator`; the current one keeps working. */
export async function startAuthenticatorReplacement(account: AccountClient, proof: ReauthProof): Promise<TotpSetup> {
  const res = await account.replaceTotpInit({ reauthToken: proof.reauthToken });
  return { secret: res.secret, otpauthUri: res.otpauthUri, qrCodePng: res.qrCodePng };
}

/** A code of the NEW secret makes it the only one accepted. */
export async function confirmAuthenticator(account: AccountClient, proof: ReauthProof, code: string): Promise<void> {
  await account.replaceTotpFinish({ reauthToken: proof.reauthToken, code: normalizeTotpCode(code) });
}

/** A new set of recovery codes, shown once; every old one stops working. */
export async function regenerateRecoveryCodes(account: AccountClient, proof: ReauthProof): Promise<string[]> {
  return (await account.regenerateRecoveryCodes({ reauthToken: proof.reauthToken })).recoveryCodes;
}

/** Ends every session and erases the account; the username becomes free. */
export async function deleteAccount(account: AccountClient, proof: ReauthProof): Promise<void> {
  await account.deleteAccount({ reauthToken: proof.reauthToken });
}
