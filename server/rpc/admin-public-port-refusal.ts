/**
 * The public port does not serve AdminService (it is for the internal port only), but it must say
 * so the way an RPC client understands: UNIMPLEMENTED, as gRPC, gRPC-Web and Connect each express
 * it. Without this, the path falls through to the web app's static handler, whose plain HTTP 404
 * reaches clients as whatever each protocol makes of a 404 page. Reflection on the public port does
 * not list the service.
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { AdminService } from "../../gen/cypher/admin/v1/admin_pb.js";

export const ADMIN_NOT_SERVED_MESSAGE = "cypher.admin.v1.AdminService is not served on this port";

export function refuseAdminService(router: ConnectRouter): void {
  const refuse = () => {
    throw new ConnectError(ADMIN_NOT_SERVED_MESSAGE, Code.Unimplemented);
  };
  const impl = Object.fromEntries(AdminService.methods.map((method) => [method.localName, refuse])) as unknown as ServiceImpl<typeof AdminService>;
  router.service(AdminService, impl);
}
