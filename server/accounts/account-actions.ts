/**
 * Who asked for an account-wide change, for the audit entry: the client's address and user agent,
 * and flat facts naming the actor (an operator's key fingerprint, or the owner's session).
 */
import type { AuditDetails } from "../storage/audit-log.js";

export interface Actor {
  ip: string | null;
  userAgent: string | null;
  /** Flat facts about who acted (e.g. `{ by: "operator", operator: "<fingerprint>" }`). */
  details: AuditDetails;
}
