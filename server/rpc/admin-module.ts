/**
 * AdminService, assembled from an AppContext and the session module's Revocations (so that a lock
 * or a deletion ends sessions on every instance exactly as a log-out does). Served by the internal
 * port only (grpc/grpc-server.ts); the public port refuses it (admin-public-port-refusal.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/cypher/admin/v1/admin_pb.js";
import type { AppContext } from "../app-context.js";
import type { Revocations } from "../session/liveness/index.js";
import { AdminAuthenticator } from "../admin/admin-authenticator.js";
import { PageTokens, pageTokenKey } from "../admin/page-token.js";
import { createAdminService } from "./admin-service.js";

export function createAdminModule(ctx: AppContext, options: { revocations: Revocations }): { service: ServiceImpl<typeof AdminService> } {
  const authenticator = new AdminAuthenticator(ctx.config.adminKeys);
  if (authenticator.configured) {
    // Fingerprints only (what the audit log names the keys by), never a key.
    ctx.logger.info("admin API keys configured", { fingerprints: ctx.config.adminKeys.map((k) => k.fingerprint) });
  } else {
    ctx.logger.info("admin API: no ADMIN_API_KEYS configured; every AdminService call is refused");
  }
  return {
    service: createAdminService({
      db: ctx.db,
      clock: ctx.clock,
      authenticator,
      revocations: options.revocations,
      pageTokens: new PageTokens(pageTokenKey(ctx.keys.totpEncryptionKey)),
    }),
  };
}
