/**
 * A ConnectError as a grpc-js status: the same code, message and google.rpc details the Connect
 * port sends over gRPC. The trailers are written by connect's own setTrailerStatus, so
 * `grpc-status-details-bin` carries the identical google.rpc.Status (with Any-packed ErrorInfo,
 * BadRequest, RetryInfo) and `ConnectError.findDetails` works the same against either port.
 */
import { type ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { Metadata, type StatusObject, type status as GrpcStatus } from "@grpc/grpc-js";

/** Headers grpc-js writes itself, or that may not appear in trailers at all. */
const RESERVED = new Set(["grpc-status", "grpc-message", "content-type", "te", "content-length"]);

export function grpcStatusOf(error: ConnectError, trailer?: Headers): StatusObject {
  const headers = setTrailerStatus(new Headers(trailer), error);
  // Connect codes are the gRPC status codes, number for number.
  return { code: error.code as number as GrpcStatus, details: error.rawMessage, metadata: toMetadata(headers) };
}

/** Headers as grpc-js metadata: `-bin` values are base64 in Headers and bytes in metadata. */
export function toMetadata(headers: Headers): Metadata {
  const metadata = new Metadata();
  headers.forEach((value, key) => {
    if (RESERVED.has(key) || key.startsWith(":")) return;
    try {
      if (key.endsWith("-bin")) {
        for (const part of value.split(",")) metadata.add(key, Buffer.from(part.trim(), "base64"));
      } else {
        metadata.add(key, value);
      }
    } catch {
      // grpc-js refuses keys or values that are not legal in HTTP/2 headers: leave them out.
    }
  });
  return metadata;
}
