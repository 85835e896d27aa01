/**
 * The public port's RPC metrics (rpc-metrics.ts), as a connect interceptor placed outermost, so it
 * counts the code the client got. Unary calls are counted when answered, streams when they end
 * (completed, failed, or cancelled by the client). Calls connect refuses before any interceptor
 * runs (an unparseable body, an unknown method) are not seen, as in the logs.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { RpcPortMetrics } from "./rpc-metrics.js";

export function createRpcMetricsInterceptor(metrics: RpcPortMetrics): Interceptor {
  return (next) => async (req) => {
    const series = metrics.series(req.method);
    const startedMs = performance.now();
    series.start();
    let done = false;
    const finish = (error: unknown) => {
      if (done) return;
      done = true;
      series.finish(error === undefined ? 0 : ConnectError.from(error).code, performance.now() - startedMs);
    };

    let res;
    try {
      res = await next(req);
    } catch (error) {
      finish(error ?? new Error("undefined thrown"));
      throw error;
    }
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    const messages = res.message;
    const onAbort = () => finish(new ConnectError("client went away", Code.Canceled));
    req.signal.addEventListener("abort", onAbort, { once: true });
    return {
      ...res,
      message: (async function* () {
        let failure: unknown;
        try {
          yield* messages;
        } catch (error) {
          failure = error ?? new Error("undefined thrown");
          throw error;
        } finally {
          req.signal.removeEventListener("abort", onAbort);
          finish(failure);
        }
      })(),
    };
  };
}
