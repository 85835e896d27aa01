/**
 * A password change as a client drives it: OPAQUE registration again, under a reauth token from
 * AccountService.Reauthenticate. The server identity is not in ChangePasswordInit's answer: the
 * client has it from its registration or its last LoginInit.
 */
import type { Client } from "@connectrpc/connect";
import type { AccountService } from "../gen/cypher/account/v1/account_pb.js";
import type { DriverOptions } from "./driver-options.js";
import { inProcessOpaque, opaqueIdentity } from "./opaque-client.js";

export type AccountClient = Client<typeof AccountService>;

export interface PasswordChange {
  reauthToken: string;
  username: string;
  newPassword: string;
  serverIdentity: string;
  /** Sessions other than the caller's end unless this is true. */
  keepOtherSessions?: boolean;
}

/** ChangePasswordInit, the client's registerFinish, ChangePasswordFinish (the Bearer token goes in `callOptions`). */
export async function changePassword(account: AccountClient, change: PasswordChange, options: DriverOptions = {}): Promise<void> {
  const registration = await (options.opaque ?? inProcessOpaque()).startRegistration(change.newPassword);
  const init = await account.changePasswordInit({ reauthToken: change.reauthToken, registrationRequest: registration.request }, options.callOptions);
  const record = await registration.finish(init.registrationResponse, change.serverIdentity, opaqueIdentity(change.username));
  await account.changePasswordFinish(
    { reauthToken: change.reauthToken, registrationRecord: record, keepOtherSessions: change.keepOtherSessions ?? false },
    options.callOptions,
  );
}
