/**
 * An interceptor that tells an observer when a call is over for the client, exactly once: a unary
 * call when it is answered or fails, a stream when it ends, fails, or the client goes away
 * (cancelled). The public port's log line and its RPC metrics both count calls this way, through
 * one interceptor (`combineObservers`), so a call is wrapped once however many observe it.
 */
import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";

/** Called when a call starts; returns what to call when it ends (`undefined` for success). */
export type CallObserver = (req: UnaryRequest | StreamRequest) => (error: unknown) => void;

export function createCallEndInterceptor(observe: CallObserver): Interceptor {
  return (next) => async (req) => {
    const ended = observe(req);
    let done = false;
    const end = (error: unknown) => {
      if (done) return;
      done = true;
      ended(error);
    };

    let res;
    try {
      res = await next(req);
    } catch (error) {
      end(error ?? new Error("undefined thrown"));
      throw error;
    }
    if (!res.stream) {
      end(undefined);
      return res;
    }
    const messages = res.message;
    // A client that goes away may leave the stream un-finished: it ends as cancelled then.
    const onAbort = () => end(new ConnectError("client went away", Code.Canceled));
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
          end(failure);
        }
      })(),
    };
  };
}

/** One observer that starts and ends each of `observers`, in order. */
export function combineObservers(...observers: CallObserver[]): CallObserver {
  if (observers.length === 1) return observers[0]!;
  return (req) => {
    const ends = observers.map((observe) => observe(req));
    return (error) => {
      for (const end of ends) end(error);
    };
  };
}
