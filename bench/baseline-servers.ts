/**
 * The baseline process of `npm run bench`: what each RPC library costs on its own, with no Cypher
 * code in the call. Both answer grpc.health.v1.Health/Check with a constant SERVING and nothing else:
 *  - a bare @grpc/grpc-js server, messages through protobuf-es (the codec the internal port uses);
 *  - a bare connect-node handler on an h2c server (what the public port's RPC layer costs).
 * Same side channel as the server process (CPU time, resident memory, GC pauses), the same V8
 * heap tuning (server/heap-tuning.ts) and the same grpc-js server options as the internal port,
 * so that the two differ by code only.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../server/config.js";
import { internalServerOptions } from "../server/grpc/grpc-server.js";
import { grpcServiceDefinition } from "../server/grpc/service-definition.js";
import { boundHeapGrowth } from "../server/heap-tuning.js";
import { usageReporter } from "./usage-report.js";

boundHeapGrowth();
const usage = usageReporter();

const SERVING = HealthCheckResponse_ServingStatus.SERVING;

const grpcServer = new Server(internalServerOptions(loadConfig({}).limits));
grpcServer.addService(grpcServiceDefinition(Health), {
  Check: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => callback(null, create(HealthCheckResponseSchema, { status: SERVING })),
});
const grpcPort = await new Promise<number>((resolve, reject) =>
  grpcServer.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
);

const connectServer = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(Health, { check: () => ({ status: SERVING }) }) }));
await new Promise<void>((resolve) => connectServer.listen(0, "127.0.0.1", resolve));
const connectPort = (connectServer.address() as AddressInfo).port;

process.on("message", (message: { type: string; resetLongestPause?: boolean }) => {
  if (message.type === "usage") {
    process.send!({ type: "usage", ...usage(message.resetLongestPause === true) });
  } else if (message.type === "stop") {
    grpcServer.forceShutdown();
    connectServer.close();
    process.exit(0);
  }
});
process.send!({ type: "ready", grpcPort, connectPort });
