/**
 * Every service on the public port: the product's services (auth, session, account), gRPC health and
 * server reflection (v1 and v1alpha). Reflection lists all of them, itself included. AdminService is
 * refused here.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { refuseAdminService } from "../rpc/admin-public-port-refusal.js";
import { createHealthService, type HealthState } from "./health.js";
import {
  ReflectionIndex,
  ServerReflectionV1,
  ServerReflectionV1alpha,
  createReflectionV1Service,
  createReflectionV1alphaService,
} from "./reflection.js";

export interface RouteServices {
  auth: ServiceImpl<typeof AuthService>;
  session: ServiceImpl<typeof SessionService>;
  account: ServiceImpl<typeof AccountService>;
  health: HealthState;
  /**
   * Further services to list in reflection (registered elsewhere on the same router). The services
   * registered here are always listed.
   */
  reflectionServices?: DescService[];
}

/** The services reflection always lists. */
export const PUBLIC_SERVICES: readonly DescService[] = [
  AuthService,
  SessionService,
  AccountService,
  Health,
  ServerReflectionV1,
  ServerReflectionV1alpha,
];

export function registerRoutes(router: ConnectRouter, services: RouteServices): void {
  const reflection = new ReflectionIndex([...PUBLIC_SERVICES, ...(services.reflectionServices ?? [])]);
  router
    .service(AuthService, services.auth)
    .service(SessionService, services.session)
    .service(AccountService, services.account)
    .service(Health, createHealthService(services.health))
    .service(ServerReflectionV1, createReflectionV1Service(reflection))
    .service(ServerReflectionV1alpha, createReflectionV1alphaService(reflection));
  // Internal port only: answered here with UNIMPLEMENTED, not listed by reflection.
  refuseAdminService(router);
}
