/**
 * A service implementation that exists before its real one does. The port opens first (so health
 * can answer NOT_SERVING while storage starts); until `bind` is called every call answers
 * Unavailable, and afterwards every call goes straight to the real implementation.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { unavailable } from "./errors.js";

export interface LateBoundService<S extends DescService> {
  impl: ServiceImpl<S>;
  bind(real: ServiceImpl<S>): void;
}

export function lateBoundService<S extends DescService>(service: S): LateBoundService<S> {
  let real: ServiceImpl<S> | undefined;
  const target = (name: string) => {
    if (!real) throw unavailable("the server is starting, try again shortly");
    return (real as Record<string, (...args: unknown[]) => unknown>)[name]!;
  };
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const name = method.localName;
    impl[name] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? (...args: unknown[]) => target(name)(...args)
        : async function* (...args: unknown[]) {
            yield* target(name)(...args) as AsyncIterable<unknown>;
          };
  }
  return {
    impl: impl as ServiceImpl<S>,
    bind: (r) => {
      real = r;
    },
  };
}
