/**
 * Who asked for an account-wide change, for the audit entry: the client's address and user agent,
 * the owner's session when the owner acted, and flat facts naming the actor (an operator's key
 * fingerprint, or the owner).
 */
import type { AuditDetails } from "../storage/audit-log.js";

export interface Actor {
  ip: string | null;
  userAgent: string | null;
  /** The session the owner acted from (none for an operator). */
  sessionId?: string;
  /** Flat facts about who acted (e.g. `{ by: "operator", operator: "<fingerprint>" }`). */
  details: AuditDetails;
}
