/**
 * Service implementations that answer every method with Unimplemented: stand-ins for the product
 * services, so the transport tests exercise the listener, health and reflection alone.
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";

/** A full ServiceImpl of `service` whose every method throws ConnectError Unimplemented. */
export function unimplementedService<T extends DescService>(service: T): ServiceImpl<T> {
  const impl: Record<string, () => never> = {};
  for (const method of service.methods) {
    impl[method.localName] = () => {
      throw new ConnectError(`${service.typeName}.${method.name} is not implemented`, Code.Unimplemented);
    };
  }
  // Every method of the descriptor is present, which is what ServiceImpl demands; TypeScript cannot
  // follow that through the loop.
  return impl as unknown as ServiceImpl<T>;
}

export function unimplementedAuthService(): ServiceImpl<typeof AuthService> {
  return unimplementedService(AuthService);
}

export function unimplementedSessionService(): ServiceImpl<typeof SessionService> {
  return unimplementedService(SessionService);
}

export function unimplementedAccountService(): ServiceImpl<typeof AccountService> {
  return unimplementedService(AccountService);
}
