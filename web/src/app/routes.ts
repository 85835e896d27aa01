/** Where the app can be. Screens receive their route's data; nothing here is ever persisted. */
import type { ReauthProof } from "../client/account.js";
import type { PasswordProof } from "../client/login.js";
import type { PendingEnrollment } from "../client/register.js";
import type { NoticeTone } from "./ui/components.js";

export interface Flash {
  tone: NoticeTone;
  message: string;
}

export type Route =
  | { name: "loading" }
  | { name: "login"; username?: string; flash?: Flash }
  | { name: "register"; flash?: Flash }
  | { name: "enroll"; enrollment: PendingEnrollment }
  | { name: "recovery-codes"; username: string; codes: string[] }
  | { name: "second-factor"; proof: PasswordProof }
  | { name: "sessions"; flash?: Flash }
  | { name: "security"; flash?: Flash }
  /** Password and a code again, before `action`; `lostAuthenticator` after a login with a recovery code. */
  | { name: "step-up"; action: AccountAction; lostAuthenticator?: boolean; flash?: Flash }
  | { name: "change-password"; proof: ReauthProof }
  | { name: "replace-authenticator"; proof: ReauthProof }
  | { name: "new-recovery-codes"; username: string; codes: string[] }
  | { name: "delete-account"; proof: ReauthProof };

/** The changes on the Security page; each needs the password and a code first. */
export type AccountAction = "change-password" | "replace-authenticator" | "new-recovery-codes" | "delete-account";

export type RouteName = Route["name"];
