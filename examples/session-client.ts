/**
 * A @grpc/grpc-js client for Cypher's SessionService on the internal gRPC port, built from the
 * descriptors protoc-gen-es generated into gen/ (no .proto files, no proto-loader at run time).
 * Copy it into a backend that wants to verify Cypher sessions.
 *
 *   const cypher = new SessionClient("127.0.0.1:50051");
 *   const session = await cypher.verifySession(accessToken); // throws grpc.ServiceError if refused
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  GetPublicKeysRequestSchema,
  GetPublicKeysResponseSchema,
  VerifySessionRequestSchema,
  VerifySessionResponseSchema,
  WatchRevocationsRequestSchema,
  WatchRevocationsResponseSchema,
  type PublicKey,
  type Session,
  type WatchRevocationsResponse,
} from "../gen/cypher/session/v1/session_pb.js";

const SERVICE = "/cypher.session.v1.SessionService";

const encode =
  <T extends DescMessage>(schema: T) =>
  (message: MessageInitShape<T>): Buffer =>
    Buffer.from(toBinary(schema, create(schema, message)));
const decode =
  <T extends DescMessage>(schema: T) =>
  (bytes: Buffer): MessageShape<T> =>
    fromBinary(schema, bytes);

export class SessionClient {
  readonly #client: grpc.Client;

  /** `address` is host:port of Cypher's GRPC_PORT (plaintext unless credentials say otherwise). */
  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    this.#client = new grpc.Client(address, credentials, {
      // Backends call on every request: keep the connection up and notice a dead one quickly.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 5_000,
    });
  }

  /** The live session of an access token; rejects with UNAUTHENTICATED (and ErrorInfo) when refused. */
  verifySession(accessToken: string, timeoutMs = 1_000): Promise<Session> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        `${SERVICE}/VerifySession`,
        encode(VerifySessionRequestSchema),
        decode(VerifySessionResponseSchema),
        { accessToken },
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => (error ? reject(error) : resolve(response!.session!)),
      );
    });
  }

  /** The keys that verify Cypher's tokens (PASERK k4.public), for verifying offline. */
  getPublicKeys(timeoutMs = 5_000): Promise<PublicKey[]> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        `${SERVICE}/GetPublicKeys`,
        encode(GetPublicKeysRequestSchema),
        decode(GetPublicKeysResponseSchema),
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => (error ? reject(error) : resolve(response!.keys)),
      );
    });
  }

  /** Revoked session ids from every Cypher instance, after `cursor` (empty: the recent ones). */
  watchRevocations(cursor: string): grpc.ClientReadableStream<WatchRevocationsResponse> {
    return this.#client.makeServerStreamRequest(
      `${SERVICE}/WatchRevocations`,
      encode(WatchRevocationsRequestSchema),
      decode(WatchRevocationsResponseSchema),
      { cursor },
      new grpc.Metadata(),
      {},
    );
  }

  close(): void {
    this.#client.close();
  }
}
