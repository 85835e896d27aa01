/**
 * The client driver's OPAQUE steps on a worker thread of their own (IdentityMemHardFn), so a bench
 * driver's event loop stays free to send and time RPCs while the client's arithmetic runs.
 * Worker threads do not inherit tsx's TypeScript loader, so the thread registers it before loading
 * opaque-client-thread.ts.
 */
import { Worker } from "node:worker_threads";
import { OpaqueClientError, type LoginInProgress, type OpaqueClientSteps, type OpaqueStep, type RegistrationInProgress } from "../../client/opaque-client.js";

export type OpaqueThreadRequest =
  | { id: number; op: "startRegistration" | "startLogin"; password: string }
  | { id: number; op: "finish"; flow: number; answer: Uint8Array; serverIdentity: string; clientIdentity: string };

export type OpaqueThreadReply =
  | { id: number; result: { flow?: number; bytes: Uint8Array } }
  | { id: number; error: { message: string; step?: OpaqueStep } };

type Request = OpaqueThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

const BOOT = `
const { workerData } = require("node:worker_threads");
import(workerData.tsxApi).then(({ register }) => { register(); return import(workerData.entry); });
`;

export class ThreadedOpaque implements OpaqueClientSteps {
  readonly #worker = new Worker(BOOT, {
    eval: true,
    workerData: { tsxApi: import.meta.resolve("tsx/esm/api"), entry: new URL("./opaque-client-thread.ts", import.meta.url).href },
  });
  readonly #pending = new Map<number, { resolve: (result: { flow?: number; bytes: Uint8Array }) => void; reject: (e: unknown) => void }>();
  #nextId = 1;

  constructor() {
    this.#worker.on("message", (reply: OpaqueThreadReply) => {
      const pending = this.#pending.get(reply.id)!;
      this.#pending.delete(reply.id);
      if ("result" in reply) pending.resolve(reply.result);
      else pending.reject(reply.error.step ? new OpaqueClientError(reply.error.step, reply.error.message) : new Error(reply.error.message));
    });
  }

  async startRegistration(password: string): Promise<RegistrationInProgress> {
    const started = await this.#call({ op: "startRegistration", password });
    return { request: started.bytes, finish: (answer, serverIdentity, clientIdentity) => this.#finish(started.flow!, answer, serverIdentity, clientIdentity) };
  }

  async startLogin(password: string): Promise<LoginInProgress> {
    const started = await this.#call({ op: "startLogin", password });
    return { ke1: started.bytes, finish: (answer, serverIdentity, clientIdentity) => this.#finish(started.flow!, answer, serverIdentity, clientIdentity) };
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }

  async #finish(flow: number, answer: Uint8Array, serverIdentity: string, clientIdentity: string): Promise<Uint8Array> {
    return (await this.#call({ op: "finish", flow, answer, serverIdentity, clientIdentity })).bytes;
  }

  #call(request: Request): Promise<{ flow?: number; bytes: Uint8Array }> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }
}
