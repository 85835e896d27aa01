/**
 * Example backend: a small HTTP service that authenticates every request by asking Cypher
 * (SessionService.VerifySession over the internal gRPC port). A revoked or expired session is
 * refused on its next request.
 *
 *   CYPHER_GRPC_ADDRESS=127.0.0.1:50051 PORT=3000 npx tsx examples/online-backend.ts
 *   curl -H "authorization: Bearer $ACCESS_TOKEN" http://localhost:3000/hello
 *
 * 200 with the caller's username for a live session; 401 for a missing, bad, expired or revoked
 * token; 503 when Cypher cannot be reached (fail closed: no answer is not a yes).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { SessionClient } from "./session-client.js";

export interface RunningBackend {
  port: number;
  close(): Promise<void>;
}

export async function startOnlineBackend(options: { cypherAddress: string; port?: number; host?: string }): Promise<RunningBackend> {
  const cypher = new SessionClient(options.cypherAddress);
  const server = http.createServer(async (req, res) => {
    const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    if (token === undefined) return reply(res, 401, { error: "missing bearer token" });
    try {
      const session = await cypher.verifySession(token);
      reply(res, 200, { hello: session.username, userId: session.userId, sessionId: session.sessionId, path: req.url });
    } catch (error) {
      const code = (error as grpc.ServiceError).code;
      if (code === grpc.status.UNAUTHENTICATED || code === grpc.status.INVALID_ARGUMENT) reply(res, 401, { error: "unauthenticated" });
      else reply(res, 503, { error: "authentication service unavailable" });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      cypher.close();
    },
  };
}

export function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body) + "\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const backend = await startOnlineBackend({
    cypherAddress: process.env.CYPHER_GRPC_ADDRESS ?? "127.0.0.1:50051",
    port: Number(process.env.PORT ?? 3000),
    host: process.env.HOST ?? "127.0.0.1",
  });
  console.log(`online example backend on http://127.0.0.1:${backend.port} (asks Cypher at ${process.env.CYPHER_GRPC_ADDRESS ?? "127.0.0.1:50051"})`);
}
