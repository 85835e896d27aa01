/**
 * The HandlerContext a service implementation sees for a call on the internal grpc-js port: the
 * same interface the Connect port hands it, so one implementation serves both.
 *
 * Built lazily. connect's createHandlerContext makes two AbortControllers, links three signals and
 * copies four Headers objects up front, for every call; most calls here (VerifySession) read none
 * of it, and on this port that fixed cost is a visible share of the whole call (see bench/). So
 * each part is made on first use, from the grpc-js call:
 *  - requestHeader: the call's metadata (binary `-bin` values base64, as Connect carries them);
 *  - signal: aborted when the client cancels or the deadline passes (grpc-js reports both as
 *    "cancelled"), when the port's grace period runs out, and when the call completes;
 *  - values: the peer address for requestMeta() (server/transport/request-meta.ts);
 *  - responseHeader / responseTrailer: sent as response metadata by the adapter.
 */
import { setMaxListeners } from "node:events";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Deadline, Metadata } from "@grpc/grpc-js";

/** What this file needs of a grpc-js server call, of any kind (grpc-js does not export the type). */
export interface ServerSurfaceCall {
  readonly cancelled: boolean;
  readonly metadata: Metadata;
  getPeer(): string;
  getDeadline(): Deadline;
  getHost(): string;
  once(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}
import { peerAddressKey, trustedProxyHopsKey } from "../transport/request-meta.js";

/** The address part of grpc-js's getPeer() ("1.2.3.4:5678", "::1:5678", or "unknown"). */
function peerAddress(call: ServerSurfaceCall): string {
  const peer = call.getPeer();
  const colon = peer.lastIndexOf(":");
  const address = colon > 0 ? peer.slice(0, colon) : peer;
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

export class GrpcCallContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly #call: ServerSurfaceCall;
  #peer: string | undefined;
  readonly #trustedProxyHops: number;
  readonly #shutdownSignal: AbortSignal;
  #controller: AbortController | undefined;
  #onCancelled: (() => void) | undefined;
  #onShutdown: (() => void) | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #values: ContextValues | undefined;

  // Positional, and no arrow-function fields: this runs once per call on the hot path.
  constructor(method: DescMethod, call: ServerSurfaceCall, trustedProxyHops: number, shutdownSignal: AbortSignal) {
    this.method = method;
    this.service = method.parent;
    this.#call = call;
    this.#trustedProxyHops = trustedProxyHops;
    this.#shutdownSignal = shutdownSignal;
  }

  /**
   * The caller's address, as the log line and requestMeta() see it. Read on first use (most calls
   * never need it) and kept: grpc-js can no longer tell it once the call's stream has closed.
   */
  get peer(): string {
    return (this.#peer ??= peerAddress(this.#call));
  }

  get url(): string {
    return `http://${this.#call.getHost()}/${this.service.typeName}/${this.method.name}`;
  }

  timeoutMs(): number | undefined {
    const deadline = this.#call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    return Number.isFinite(at) ? at - Date.now() : undefined;
  }

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = (this.#controller = new AbortController());
    if (this.#call.cancelled) {
      controller.abort(abortError("the client cancelled the call"));
    } else if (this.#shutdownSignal.aborted) {
      controller.abort(this.#shutdownSignal.reason);
    } else {
      const shutdownSignal = this.#shutdownSignal;
      this.#onCancelled = () => controller.abort(abortError("the client cancelled the call"));
      this.#onShutdown = () => controller.abort(shutdownSignal.reason);
      this.#call.once("cancelled", this.#onCancelled);
      shutdownSignal.addEventListener("abort", this.#onShutdown, { once: true });
    }
    return controller.signal;
  }

  get requestHeader(): Headers {
    return (this.#requestHeader ??= headersOf(this.#call));
  }

  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers());
  }

  get values(): ContextValues {
    return (this.#values ??= createContextValues().set(peerAddressKey, this.peer).set(trustedProxyHopsKey, this.#trustedProxyHops));
  }

  /** Response headers set by the handler, if any (without creating the object). */
  get responseHeaderIfSet(): Headers | undefined {
    return this.#responseHeader;
  }

  get responseTrailerIfSet(): Headers | undefined {
    return this.#responseTrailer;
  }

  /** The call is over: abort the signal (if anyone took it) and drop the listeners. */
  finish(): void {
    const controller = this.#controller;
    if (!controller) return;
    if (this.#onCancelled) this.#call.removeListener("cancelled", this.#onCancelled);
    if (this.#onShutdown) this.#shutdownSignal.removeEventListener("abort", this.#onShutdown);
    if (!controller.signal.aborted) controller.abort(abortError("the call is complete"));
  }
}

/** An AbortError, which error-mapping.ts answers as Canceled. */
function abortError(message: string): Error {
  return new DOMException(message, "AbortError");
}

function headersOf(call: ServerSurfaceCall): Headers {
  const headers = new Headers();
  for (const [key, values] of Object.entries(call.metadata.toJSON()) as Array<[string, Array<string | Buffer>]>) {
    for (const value of values) {
      try {
        headers.append(key, typeof value === "string" ? value : Buffer.from(value).toString("base64"));
      } catch {
        // A value Headers refuses (control characters) cannot be anything a handler relies on.
      }
    }
  }
  return headers;
}

/** Lets every call in flight listen to one shutdown signal. */
export function shutdownController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
