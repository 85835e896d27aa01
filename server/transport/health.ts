/**
 * gRPC health checking (grpc.health.v1.Health), as load balancers, Kubernetes probes and
 * grpc_health_probe expect it. `HealthState` holds the statuses: every service starts NOT_SERVING,
 * main.ts calls `setServing(true)` once storage is ready and `shutdown()` when the process begins
 * to drain, so a balancer stops sending new calls before the port closes.
 */
import { setMaxListeners } from "node:events";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { AccountService } from "../../gen/cypher/account/v1/account_pb.js";
import { AuthService } from "../../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../../gen/cypher/session/v1/session_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/** "" is the server as a whole; the others are the product's services. */
export const HEALTH_CHECKED_SERVICES: readonly string[] = ["", AuthService.typeName, SessionService.typeName, AccountService.typeName];

type Listener = (status: ServingStatus) => void;

export class HealthState {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Aborted by shutdown(): ends every Watch stream, so draining does not wait for them. */
  readonly #shutdown = new AbortController();

  constructor(services: readonly string[] = HEALTH_CHECKED_SERVICES) {
    setMaxListeners(0, this.#shutdown.signal); // one listener per open Watch, by design
    for (const service of services) this.#statuses.set(service, ServingStatus.NOT_SERVING);
  }

  /** The status of `service`, or undefined if the server does not know it. */
  status(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Marks every known service SERVING or NOT_SERVING. Ignored after shutdown(). */
  setServing(serving: boolean): void {
    for (const service of this.#statuses.keys()) {
      this.setStatus(service, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
  }

  /** Sets one service's status (adding the service if it is new) and tells its watchers. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.#shutdown.signal.aborted) return;
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const listener of this.#listeners.get(service) ?? []) listener(status);
  }

  /** NOT_SERVING everywhere, for good; open Watch streams get that status and then end. */
  shutdown(): void {
    this.setServing(false);
    this.#shutdown.abort();
  }

  get isShutDown(): boolean {
    return this.#shutdown.signal.aborted;
  }

  /**
   * The current status at once, then every change, until `signal` aborts or the state shuts down.
   * An unknown service yields SERVICE_UNKNOWN (and its real status if it is added later).
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    const pending: ServingStatus[] = [this.status(service) ?? ServingStatus.SERVICE_UNKNOWN];
    let wake: (() => void) | undefined;
    const listener: Listener = (status) => {
      pending.push(status);
      wake?.();
    };
    const onEnd = () => wake?.();
    let listeners = this.#listeners.get(service);
    if (!listeners) this.#listeners.set(service, (listeners = new Set()));
    listeners.add(listener);
    signal.addEventListener("abort", onEnd);
    this.#shutdown.signal.addEventListener("abort", onEnd);
    try {
      let last: ServingStatus | undefined;
      for (;;) {
        while (pending.length > 0) {
          const status = pending.shift()!;
          if (status !== last) yield (last = status);
        }
        if (signal.aborted || this.#shutdown.signal.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(service);
      signal.removeEventListener("abort", onEnd);
      this.#shutdown.signal.removeEventListener("abort", onEnd);
    }
  }
}

export function createHealthService(state: HealthState): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = state.status(req.service);
      if (status === undefined) throw new ConnectError("unknown service", Code.NotFound);
      return { status };
    },
    async *watch(req, ctx) {
      for await (const status of state.watch(req.service, ctx.signal)) yield { status };
    },
  };
}
