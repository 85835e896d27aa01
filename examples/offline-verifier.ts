/**
 * Verifying Cypher access tokens without calling Cypher on each request: the public keys come from
 * GetPublicKeys (PASETO v4.public, Ed25519), revoked sessions from the WatchRevocations stream.
 *
 *  - A token is accepted when its signature verifies with a published `access` key (the key is
 *    named by the `kid` in the token's footer), its audience is `cypher:access`, it has not
 *    expired, and its session (`sid`) has not been revoked.
 *  - Revocations: the stream first replays everything recent, then says `caught_up`, then sends
 *    each new one. Until the first `caught_up`, and whenever the stream has been down for longer
 *    than `maxStaleMs`, every token is refused ("not_ready"): this verifier fails closed rather
 *    than accept a session it might not know is revoked. After a disconnect it resumes from the
 *    last cursor, so nothing is missed.
 *  - A revoked id is remembered for `revocationMemoryMs` after its revocation (at least the access
 *    token lifetime, ACCESS_TOKEN_TTL_SECONDS): by then every token of that session has expired.
 *  - An unknown `kid` (the keys were rotated) triggers one reload of the keys, at most every 30 s.
 *
 * The trade-off against asking VerifySession: no network call per request, but a revocation takes
 * effect when the stream delivers it (milliseconds), not before the next request by construction.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ClaimValidationError, InspectFooter, PublicProtocol } from "paseto";
import { ImportPublicKeyFactory, ImportSecretKeyFactory, SignFactory, VerifyFactory, type PublicKey } from "paseto/v4/public";
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { WatchRevocationsResponse } from "../gen/cypher/session/v1/session_pb.js";
import type { SessionClient } from "./session-client.js";

const v4 = new PublicProtocol(SignFactory, VerifyFactory, ImportSecretKeyFactory, ImportPublicKeyFactory);
const KEY_RELOAD_INTERVAL_MS = 30_000;

export type Verification =
  | { ok: true; sessionId: string; userId: string; username: string; expiresAt: Date }
  | { ok: false; reason: "invalid" | "expired" | "revoked" | "not_ready" };

export interface OfflineVerifierOptions {
  client: SessionClient;
  /** How long the revocation stream may be down before every token is refused (default 30 s). */
  maxStaleMs?: number;
  /** How long a revoked session id is remembered after its revocation (default 20 min). */
  revocationMemoryMs?: number;
}

export class OfflineVerifier {
  readonly #client: SessionClient;
  readonly #maxStaleMs: number;
  readonly #memoryMs: number;
  #keys = new Map<string, PublicKey>();
  #keysLoadedAtMs = 0;
  /** Revoked session id -> when to forget it (ms). */
  readonly #revoked = new Map<string, number>();
  #cursor = "";
  #caughtUp = false;
  /** When the stream went down (null while it is up). */
  #downSinceMs: number | null = Date.now();
  #stream: ClientReadableStream<WatchRevocationsResponse> | undefined;
  #retryMs = 100;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #pruneTimer: NodeJS.Timeout;

  private constructor(options: OfflineVerifierOptions) {
    this.#client = options.client;
    this.#maxStaleMs = options.maxStaleMs ?? 30_000;
    this.#memoryMs = options.revocationMemoryMs ?? 20 * 60_000;
    this.#pruneTimer = setInterval(() => this.#prune(), 60_000);
    this.#pruneTimer.unref();
  }

  /** Loads the keys and starts following revocations (resolves before the catch-up ends). */
  static async start(options: OfflineVerifierOptions): Promise<OfflineVerifier> {
    const verifier = new OfflineVerifier(options);
    await verifier.#loadKeys();
    verifier.#follow();
    return verifier;
  }

  /** Whether the catch-up has completed and the stream is not stale: tokens can be judged. */
  get ready(): boolean {
    return this.#caughtUp && (this.#downSinceMs === null || Date.now() - this.#downSinceMs <= this.#maxStaleMs);
  }

  /** The resume point of the revocation stream (what a restart could start from). */
  get cursor(): string {
    return this.#cursor;
  }

  async verify(token: string): Promise<Verification> {
    if (!this.ready) return { ok: false, reason: "not_ready" };
    const kid = kidOf(token);
    if (kid === null) return { ok: false, reason: "invalid" };
    let key = this.#keys.get(kid);
    if (key === undefined && Date.now() - this.#keysLoadedAtMs > KEY_RELOAD_INTERVAL_MS) {
      await this.#loadKeys().catch(() => {});
      key = this.#keys.get(kid);
    }
    if (key === undefined) return { ok: false, reason: "invalid" };
    let claims: Record<string, unknown>;
    try {
      ({ claims } = await v4.Verify(key, token, { audience: "cypher:access", requiredClaims: ["jti", "iat", "exp"] }));
    } catch (error) {
      return { ok: false, reason: error instanceof ClaimValidationError && error.claim === "exp" ? "expired" : "invalid" };
    }
    const { sid, sub, username, exp } = claims;
    if (typeof sid !== "string" || typeof sub !== "string" || typeof username !== "string") return { ok: false, reason: "invalid" };
    if (this.#revoked.has(sid)) return { ok: false, reason: "revoked" };
    return { ok: true, sessionId: sid, userId: sub, username, expiresAt: new Date(String(exp)) };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pruneTimer);
    this.#stream?.cancel();
  }

  async #loadKeys(): Promise<void> {
    this.#keysLoadedAtMs = Date.now();
    const keys = new Map<string, PublicKey>();
    for (const key of await this.#client.getPublicKeys()) {
      if (key.purpose === "access") keys.set(key.kid, await v4.ImportPublicKey(key.paserk as `k4.public.${string}`));
    }
    this.#keys = keys;
  }

  #follow(): void {
    const stream = (this.#stream = this.#client.watchRevocations(this.#cursor));
    stream.on("data", (response: WatchRevocationsResponse) => {
      this.#downSinceMs = null;
      this.#retryMs = 100;
      const revokedAtMs = response.revokedAt ? timestampMs(response.revokedAt) : Date.now();
      for (const id of response.sessionIds) this.#revoked.set(id, revokedAtMs + this.#memoryMs);
      this.#cursor = response.cursor;
      if (response.caughtUp) this.#caughtUp = true;
    });
    // "end" (the server shut down) and "error" (network, deadline): resume from the cursor.
    let retried = false;
    const retry = () => {
      if (retried || this.#closed) return;
      retried = true;
      this.#downSinceMs ??= Date.now();
      this.#retryTimer = setTimeout(() => this.#follow(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
    };
    stream.on("error", retry);
    stream.on("end", retry);
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, forgetAtMs] of this.#revoked) if (forgetAtMs <= now) this.#revoked.delete(id);
  }
}

/** The key id in the token's footer (`{"kid":"k4.pid...."}`), or null. */
function kidOf(token: string): string | null {
  try {
    const footer = JSON.parse(new TextDecoder().decode(InspectFooter(token))) as { kid?: unknown };
    return typeof footer.kid === "string" ? footer.kid : null;
  } catch {
    return null;
  }
}
