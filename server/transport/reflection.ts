/**
 * gRPC server reflection, v1 and v1alpha, so grpcurl and `buf curl` can discover and call the API
 * without proto files. Built from the file descriptors protobuf-es generated into gen/ (connect-node
 * has no reflection of its own: connect-es #507).
 *
 * It is a bidi stream: one answer per question, in order. A question that cannot be answered gets
 * an error_response and the stream goes on, as the reflection protocol asks.
 */
import { create, createRegistry, fromBinary, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

export const ServerReflectionV1 = v1.ServerReflection;
export const ServerReflectionV1alpha = v1alpha.ServerReflection;

type Answer = v1.ServerReflectionResponse["messageResponse"];

/** Answers reflection questions about a fixed set of services and every file they depend on. */
export class ReflectionIndex {
  readonly serviceNames: readonly string[];
  readonly #filesByName = new Map<string, DescFile>();
  readonly #registry;
  /** Serialized FileDescriptorProto per file name, computed once. */
  readonly #encoded = new Map<string, Uint8Array>();

  constructor(services: readonly DescService[]) {
    const unique = new Map(services.map((s) => [s.typeName, s]));
    this.serviceNames = [...unique.keys()].sort();
    const visit = (file: DescFile) => {
      if (this.#filesByName.has(file.proto.name)) return;
      this.#filesByName.set(file.proto.name, file);
      file.dependencies.forEach(visit);
    };
    for (const service of unique.values()) visit(service.file);
    this.#registry = createRegistry(...this.#filesByName.values());
  }

  answer(request: v1.ServerReflectionRequest): v1.ServerReflectionResponse {
    return create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: this.#answer(request.messageRequest),
    });
  }

  #answer(question: v1.ServerReflectionRequest["messageRequest"]): Answer {
    switch (question.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: create(v1.ListServiceResponseSchema, { service: this.serviceNames.map((name) => ({ name })) }),
        };
      case "fileByFilename": {
        const file = this.#filesByName.get(question.value);
        return file ? this.#fileAnswer(file) : notFound(`file not found: ${question.value}`);
      }
      case "fileContainingSymbol": {
        const file = this.#fileDeclaring(question.value);
        return file ? this.#fileAnswer(file) : notFound(`symbol not found: ${question.value}`);
      }
      case "fileContainingExtension":
        // None of the served files declares an extension.
        return notFound(`extension not found: ${question.value.containingType}(${question.value.extensionNumber})`);
      case "allExtensionNumbersOfType": {
        const type = this.#registry.get(question.value);
        if (type?.kind !== "message") return notFound(`message type not found: ${question.value}`);
        return {
          case: "allExtensionNumbersResponse",
          value: create(v1.ExtensionNumberResponseSchema, { baseTypeName: type.typeName, extensionNumber: [] }),
        };
      }
      default:
        return error(Code.InvalidArgument, "empty reflection request");
    }
  }

  /**
   * The file that declares a service, method, message, field, enum or extension (a leading dot
   * is allowed).
   */
  #fileDeclaring(symbol: string): DescFile | undefined {
    const name = symbol.startsWith(".") ? symbol.slice(1) : symbol;
    const direct = this.#registry.get(name);
    if (direct) return direct.file;
    // A member: "pkg.Service.Method" or "pkg.Message.field".
    const dot = name.lastIndexOf(".");
    if (dot < 0) return undefined;
    const [parentName, member] = [name.slice(0, dot), name.slice(dot + 1)];
    const service = this.#registry.getService(parentName);
    if (service?.methods.some((m) => m.name === member)) return service.file;
    const message = this.#registry.getMessage(parentName);
    if (message?.fields.some((f) => f.name === member)) return message.file;
    return undefined;
  }

  /** The file first, then everything it imports, transitively (clients need them all to decode). */
  #fileAnswer(file: DescFile): Answer {
    const files: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      files.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return {
      case: "fileDescriptorResponse",
      value: create(v1.FileDescriptorResponseSchema, { fileDescriptorProto: files.map((f) => this.#encode(f)) }),
    };
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file.proto.name);
    if (!bytes) this.#encoded.set(file.proto.name, (bytes = toBinary(FileDescriptorProtoSchema, file.proto)));
    return bytes;
  }
}

function error(code: Code, message: string): Answer {
  return { case: "errorResponse", value: create(v1.ErrorResponseSchema, { errorCode: code, errorMessage: message }) };
}

function notFound(message: string): Answer {
  return error(Code.NotFound, message);
}

/** grpc.reflection.v1.ServerReflection over `index`. */
export function createReflectionV1Service(index: ReflectionIndex): ServiceImpl<typeof v1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield index.answer(request);
    },
  };
}

/**
 * grpc.reflection.v1alpha.ServerReflection over `index`. v1alpha is v1 under another package name
 * (identical fields and numbers), so its messages cross over through their binary form.
 */
export function createReflectionV1alphaService(index: ReflectionIndex): ServiceImpl<typeof v1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const asV1 = fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request));
        const answer = index.answer(asV1);
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, answer));
      }
    },
  };
}
