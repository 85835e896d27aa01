/**
 * SEAM: revoking an account's device credentials (the tokens that mark a known device for the
 * login budget). ChangePasswordFinish and DeleteAccount call it inside their transaction, so the
 * credentials end exactly when the change commits. Until the device-credentials repository is
 * wired in (account-module.ts, option `revokeDeviceCredentials`), the default has nothing to revoke.
 */
import type { Db } from "../storage/database.js";

/** Revokes every device credential of `userId`, in the caller's transaction `trx`. */
export type RevokeDeviceCredentials = (trx: Db, userId: string) => Promise<void>;

export const noDeviceCredentials: RevokeDeviceCredentials = async () => {};
