import { generateKeyPairSync, sign, verify } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CypherError } from "../../server/errors.js";
import { silentLogger } from "../../server/logger.js";
import { inProcessEd25519Verifier, type Ed25519Verifier } from "../../server/tokens/ed25519-verifier.js";
import { Ed25519ThreadVerifier } from "../../server/tokens/ed25519-thread-verifier.js";

const CRASHING_WORKER = new URL("./ed25519-crashing-worker.mjs", import.meta.url);

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  return { raw, publicKey, privateKey };
}

interface Case {
  publicKey: Buffer;
  message: Buffer;
  signature: Buffer;
  expected: boolean;
}

/** Signatures that verify, and ones that do not in every way a token's can fail: wrong key, altered message, altered signature. */
function cases(count: number): Case[] {
  const alice = keyPair();
  const bob = keyPair();
  return Array.from({ length: count }, (_, i) => {
    const message = Buffer.from(`message ${i} `.repeat(1 + (i % 40)));
    const signature = sign(null, message, alice.privateKey);
    const variant = i % 4;
    const publicKey = variant === 1 ? bob.raw : alice.raw;
    const altered = Buffer.from(variant === 2 ? message : signature);
    if (variant === 2 || variant === 3) altered[i % altered.length]! ^= 1;
    const c = { publicKey, message: variant === 2 ? altered : message, signature: variant === 3 ? altered : signature, expected: false };
    c.expected = verify(null, c.message, variant === 1 ? bob.publicKey : alice.publicKey, c.signature);
    return c;
  });
}

async function unavailableError(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CypherError);
  expect((error as CypherError).code).toBe("unavailable");
}

describe("Ed25519 verification", () => {
  const open: Ed25519Verifier[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((v) => v.close()));
  });

  for (const [name, make] of [
    ["on one thread", () => Ed25519ThreadVerifier.start({ threads: 1, logger: silentLogger })],
    ["spread over two threads", () => Ed25519ThreadVerifier.start({ threads: 2, logger: silentLogger })],
    ["on libuv's pool", async () => inProcessEd25519Verifier()],
  ] as const) {
    it(`gives every call its own verdict, many calls at once (${name})`, async () => {
      const verifier = await make();
      open.push(verifier);
      const all = cases(300);
      expect(all.filter((c) => c.expected)).toHaveLength(75);
      // All in one turn (several batches), then again one call at a time.
      const together = await Promise.all(all.map((c) => verifier.verify(c.publicKey, c.message, c.signature)));
      expect(together).toEqual(all.map((c) => c.expected));
      for (const c of all.slice(0, 8)) expect(await verifier.verify(c.publicKey, c.message, c.signature)).toBe(c.expected);
    });
  }

  it("answers 'not valid' for a key or signature of the wrong size, without failing the calls beside it", async () => {
    const verifier = await Ed25519ThreadVerifier.start({ threads: 1, logger: silentLogger });
    open.push(verifier);
    const [good] = cases(1);
    // In one turn, so all three would share a batch.
    const verdicts = await Promise.all([
      verifier.verify(good!.publicKey.subarray(1), good!.message, good!.signature),
      verifier.verify(good!.publicKey, good!.message, good!.signature),
      verifier.verify(good!.publicKey, good!.message, good!.signature.subarray(1)),
    ]);
    expect(verdicts).toEqual([false, true, false]);
  });

  it("fails the calls a dead thread owed with Unavailable, never as invalid, and replaces the thread", async () => {
    const verifier = await Ed25519ThreadVerifier.start({ threads: 1, logger: silentLogger, workerUrl: CRASHING_WORKER });
    open.push(verifier);
    const [good] = cases(1);
    expect(await verifier.verify(good!.publicKey, good!.message, good!.signature)).toBe(true);

    const owed = [
      verifier.verify(good!.publicKey, good!.message, good!.signature),
      verifier.verify(good!.publicKey, Buffer.from("crash-me"), good!.signature),
    ];
    await Promise.all(owed.map(unavailableError));

    // Its replacement (after a pause: the thread died young) verifies again.
    await vi.waitFor(async () => expect(await verifier.verify(good!.publicKey, good!.message, good!.signature)).toBe(true), { timeout: 5_000, interval: 100 });
  });

  it("after close, refuses new calls and fails waiting ones with Unavailable", async () => {
    const verifier = await Ed25519ThreadVerifier.start({ threads: 1, logger: silentLogger });
    const [good] = cases(1);
    const waiting = unavailableError(verifier.verify(good!.publicKey, good!.message, good!.signature));
    await verifier.close();
    await waiting;
    await unavailableError(verifier.verify(good!.publicKey, good!.message, good!.signature));
  });
});
