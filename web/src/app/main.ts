/**
 * Entry point of the browser app. Wires the clients, the session manager and the shell; keeps
 * nothing on `window` (no token is reachable from a global).
 */
import { createClient } from "@connectrpc/connect";
import { SessionService } from "../../../gen/cypher/session/v1/session_pb.js";
import { bearerInterceptor, createAccountClient } from "../client/account.js";
import { createCypherClients, createCypherTransport } from "../client/clients.js";
import { SessionManager } from "../session/session-manager.js";
import { App } from "./app.js";

function main(): void {
  const root = document.getElementById("app");
  if (!root) throw new Error("index.html has no #app element");
  const clients = createCypherClients(createCypherTransport());
  const sessions = new SessionManager({ session: clients.session });
  const account = createClient(SessionService, createCypherTransport({ interceptors: [sessions.interceptor()] }));
  const accountService = createAccountClient(createCypherTransport({ interceptors: [bearerInterceptor(() => sessions.accessToken())] }));
  const app = new App(root, clients, account, accountService, sessions);

  // Timers in background tabs are throttled; a tab coming back refreshes at once if it must.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sessions.ensureFresh().catch(() => {});
  });
  window.addEventListener("online", () => sessions.ensureFresh().catch(() => {}));
  void app.start();
}

main();
