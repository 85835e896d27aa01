/**
 * The public port's RPC metrics (rpc-metrics.ts), as a call observer (the listener's outermost
 * interceptor runs it beside the log line), so it counts the code the client got. Unary calls are counted when answered, streams when they end
 * (completed, failed, or cancelled by the client). Calls connect refuses before any interceptor
 * runs (an unparseable body, an unknown method) are not seen, as in the logs.
 */
import { ConnectError } from "@connectrpc/connect";
import type { CallObserver } from "../transport/call-end-interceptor.js";
import type { RpcPortMetrics } from "./rpc-metrics.js";

export function rpcMetricsObserver(metrics: RpcPortMetrics): CallObserver {
  return (req) => {
    const series = metrics.series(req.method);
    const startedMs = performance.now();
    series.start();
    return (error) => series.finish(error === undefined ? 0 : ConnectError.from(error).code, performance.now() - startedMs);
  };
}
