/**
 * grpc-js service definitions built from the protoc-gen-es descriptors in gen/, so the internal
 * port serves the very contract the Connect port does (no second copy of the proto, no
 * proto-loader). Messages cross with protobuf-es's own binary codec.
 *
 * A request body that does not parse makes `requestDeserialize` throw; grpc-js then answers
 * INTERNAL "Error deserializing request" (no more detail), before any handler runs: the gRPC
 * status-code table's answer, as on the Connect port.
 */
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** A Buffer view of the bytes (grpc-js frames responses with Buffer methods; no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Serializes a message, or an init object of it (what a ServiceImpl may return). A frozen message
 * cannot change, so its encoding is kept and reused: an implementation that answers many calls with
 * the same frozen message (VerifySession for a session in memory) pays for the encoding once.
 */
function serializer<T extends DescMessage>(schema: T): (value: MessageShape<T>) => Buffer {
  const encoded = new WeakMap<object, Buffer>();
  return (value) => {
    if (!Object.isFrozen(value)) return asBuffer(toBinary(schema, isMessage(value, schema) ? value : create(schema, value)));
    let bytes = encoded.get(value);
    if (bytes === undefined) encoded.set(value, (bytes = asBuffer(toBinary(schema, isMessage(value, schema) ? value : create(schema, value)))));
    return bytes;
  };
}

function deserializer<T extends DescMessage>(schema: T): (bytes: Buffer) => MessageShape<T> {
  return (bytes) => fromBinary(schema, bytes);
}

export function grpcMethodDefinition(method: DescMethod): MethodDefinition<unknown, unknown> {
  const kind = method.methodKind;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: kind === "client_streaming" || kind === "bidi_streaming",
    responseStream: kind === "server_streaming" || kind === "bidi_streaming",
    requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output) as (value: unknown) => Buffer,
    responseDeserialize: deserializer(method.output),
    originalName: method.localName,
  };
}

/** Keyed by the RPC name ("VerifySession"); grpc-js clients also get the local name ("verifySession"). */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.name] = grpcMethodDefinition(method);
  return definition;
}
