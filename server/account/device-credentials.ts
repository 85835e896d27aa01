/**
 * Revoking an account's device credentials (the tokens that mark a known device for the login
 * budget). ChangePasswordFinish calls it inside its transaction, so the credentials end exactly
 * when the change commits (a deletion removes them with the account's row instead). The server
 * wires the device-credential repository in (cypher-server.ts); tests may watch the call.
 */
import type { Db } from "../storage/database.js";

/** Revokes every device credential of `userId`, in the caller's transaction `trx`. */
export type RevokeDeviceCredentials = (trx: Db, userId: string) => Promise<void>;
