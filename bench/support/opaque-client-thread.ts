/**
 * Worker-thread side of ThreadedOpaque (threaded-opaque.ts): runs the client driver's own OPAQUE
 * steps (client/opaque-client.ts) and keeps each flow's state until its finish arrives.
 */
import { parentPort } from "node:worker_threads";
import { IdentityMemHardFn } from "@cloudflare/opaque-ts";
import { inProcessOpaque, OpaqueClientError, type LoginInProgress, type RegistrationInProgress } from "../../client/opaque-client.js";
import type { OpaqueThreadReply, OpaqueThreadRequest } from "./threaded-opaque.js";

const opaque = inProcessOpaque(IdentityMemHardFn);
const flows = new Map<number, RegistrationInProgress | LoginInProgress>();
let nextFlow = 1;

async function handle(request: OpaqueThreadRequest): Promise<{ flow?: number; bytes: Uint8Array }> {
  if (request.op === "finish") {
    const flow = flows.get(request.flow);
    flows.delete(request.flow);
    if (!flow) throw new Error(`no OPAQUE flow ${request.flow}`);
    return { bytes: await flow.finish(request.answer, request.serverIdentity, request.clientIdentity) };
  }
  const flow = request.op === "startRegistration" ? await opaque.startRegistration(request.password) : await opaque.startLogin(request.password);
  const id = nextFlow++;
  flows.set(id, flow);
  return { flow: id, bytes: "request" in flow ? flow.request : flow.ke1 };
}

parentPort!.on("message", (request: OpaqueThreadRequest) => {
  handle(request).then(
    (result) => parentPort!.postMessage({ id: request.id, result } satisfies OpaqueThreadReply),
    (err: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        error: { message: String(err instanceof Error ? err.message : err), ...(err instanceof OpaqueClientError ? { step: err.step } : {}) },
      } satisfies OpaqueThreadReply),
  );
});
