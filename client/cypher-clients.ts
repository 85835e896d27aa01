/**
 * The Connect clients the driver calls. Callers build them on whatever transport they have
 * (connect-web in the browser, connect-node, an in-memory router in tests), so nothing here knows
 * how bytes travel.
 */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { AuthService } from "../gen/cypher/auth/v1/auth_pb.js";
import { SessionService } from "../gen/cypher/session/v1/session_pb.js";

export type AuthClient = Client<typeof AuthService>;
export type SessionClient = Client<typeof SessionService>;

export interface CypherClients {
  auth: AuthClient;
  session: SessionClient;
}

export function createCypherClients(transport: Transport): CypherClients {
  return { auth: createClient(AuthService, transport), session: createClient(SessionService, transport) };
}
