/** Where the app can be. Screens receive their route's data; nothing here is ever persisted. */
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
  | { name: "sessions"; flash?: Flash };

export type RouteName = Route["name"];
