/**
 * Example backend that verifies Cypher access tokens itself (see offline-verifier.ts): no call to
 * Cypher per request, the public keys fetched once, revocations followed over WatchRevocations.
 *
 *   CYPHER_GRPC_ADDRESS=127.0.0.1:50051 PORT=3001 npx tsx examples/offline-backend.ts
 *   curl -H "authorization: Bearer $ACCESS_TOKEN" http://localhost:3001/hello
 *
 * 200 for a valid token of a live session; 401 for a missing, bad, expired or revoked one; 503
 * until the revocation stream has caught up, or when it has been down for too long.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { reply, type RunningBackend } from "./online-backend.js";
import { OfflineVerifier } from "./offline-verifier.js";
import { SessionClient } from "./session-client.js";

export async function startOfflineBackend(options: {
  cypherAddress: string;
  port?: number;
  host?: string;
  maxStaleMs?: number;
}): Promise<RunningBackend & { verifier: OfflineVerifier }> {
  const client = new SessionClient(options.cypherAddress);
  const verifier = await OfflineVerifier.start({ client, maxStaleMs: options.maxStaleMs });
  const server = http.createServer(async (req, res) => {
    const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    if (token === undefined) return reply(res, 401, { error: "missing bearer token" });
    const result = await verifier.verify(token);
    if (result.ok) return reply(res, 200, { hello: result.username, userId: result.userId, sessionId: result.sessionId, path: req.url });
    if (result.reason === "not_ready") return reply(res, 503, { error: "revocations not known yet" });
    reply(res, 401, { error: "unauthenticated" });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    verifier,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      verifier.close();
      client.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const backend = await startOfflineBackend({
    cypherAddress: process.env.CYPHER_GRPC_ADDRESS ?? "127.0.0.1:50051",
    port: Number(process.env.PORT ?? 3001),
    host: process.env.HOST ?? "127.0.0.1",
  });
  console.log(`offline example backend on http://127.0.0.1:${backend.port} (keys and revocations from ${process.env.CYPHER_GRPC_ADDRESS ?? "127.0.0.1:50051"})`);
}
