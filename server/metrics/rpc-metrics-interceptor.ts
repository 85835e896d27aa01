/**
 * The public port's RPC metrics (rpc-metrics.ts), as a connect interceptor placed outermost, so it
 * counts the code the client got. Unary calls are counted when answered, streams when they end
 * (completed, failed, or cancelled by the client). Calls connect refuses before any interceptor
 * runs (an unparseable body, an unknown method) are not seen, as in the logs.
 */
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { createCallEndInterceptor } from "../transport/call-end-interceptor.js";
import type { RpcPortMetrics } from "./rpc-metrics.js";

export function createRpcMetricsInterceptor(metrics: RpcPortMetrics): Interceptor {
  return createCallEndInterceptor((req) => {
    const series = metrics.series(req.method);
    const startedMs = performance.now();
    series.start();
    return (error) => series.finish(error === undefined ? 0 : ConnectError.from(error).code, performance.now() - startedMs);
  });
}
