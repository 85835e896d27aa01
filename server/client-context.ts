/**
 * Who is calling, as the domain sees it: the client's address and user agent, for attempt limits
 * and the audit log. The RPC layer builds it from the transport (transport/request-meta.ts); the
 * domain never reads a request itself.
 */
export interface ClientContext {
  /** The client IP: the socket's peer, or the address the trusted proxies recorded (TRUST_PROXY). */
  ip: string;
  userAgent: string | null;
}
