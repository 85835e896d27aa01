import { getOpaqueConfig, IdentityMemHardFn, KE2, OpaqueClient, OpaqueID, RegistrationResponse } from "@cloudflare/opaque-ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CypherError } from "../../server/errors.js";
import { generateKeyMaterial } from "../../server/keys/load-key-material.js";
import { silentLogger } from "../../server/logger.js";
import { deriveFakeRecord } from "../../server/auth/opaque/fake-record.js";
import { opaqueServerKeys } from "../../server/auth/opaque/opaque-executor.js";
import type { OpaqueServerKeys } from "../../server/auth/opaque/opaque-operations.mjs";
import { OpaqueWorkerPool } from "../../server/auth/opaque/opaque-worker-pool.js";

const cfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);
const CRASHING_WORKER = new URL("./auth-opaque-crashing-worker.mjs", import.meta.url);

let keys: OpaqueServerKeys;
let oprfSeed: Uint8Array;
let ke1: Uint8Array;

beforeAll(async () => {
  const material = await generateKeyMaterial();
  keys = opaqueServerKeys(material, "localhost");
  oprfSeed = material.opaque.oprfSeed;
  const request = await new OpaqueClient(cfg, IdentityMemHardFn).authInit("any password");
  if (request instanceof Error) throw request;
  ke1 = Uint8Array.from(request.serialize());
});

async function rejection(promise: Promise<unknown>): Promise<CypherError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CypherError);
  return error as CypherError;
}

/** The longest the event loop went without running a 1 ms timer while `work` ran. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return longest;
}

describe("OPAQUE worker pool", () => {
  let pool: OpaqueWorkerPool;
  beforeAll(async () => {
    pool = await OpaqueWorkerPool.start({ threads: 1, maxQueued: 8, keys, logger: silentLogger });
  });
  afterAll(() => pool.close());

  it("registers and logs in a real client with the work done in a worker", async () => {
    const client = new OpaqueClient(cfg, IdentityMemHardFn);
    const request = await client.registerInit("correct horse");
    if (request instanceof Error) throw request;
    const response = await pool.registerInit("alice", Uint8Array.from(request.serialize()));
    expect(response).toHaveLength(66);
    const registered = await client.registerFinish(RegistrationResponse.deserialize(cfg, Array.from(response)), "localhost", "alice");
    if (registered instanceof Error) throw registered;

    const login = new OpaqueClient(cfg, IdentityMemHardFn);
    const loginKe1 = await login.authInit("correct horse");
    if (loginKe1 instanceof Error) throw loginKe1;
    const { ke2, expected } = await pool.authInit("alice", Uint8Array.from(loginKe1.serialize()), Uint8Array.from(registered.record.serialize()));
    expect(ke2).toHaveLength(259);
    expect(expected).toHaveLength(64);
    const finished = await login.authFinish(KE2.deserialize(cfg, Array.from(ke2)), "localhost", "alice");
    if (finished instanceof Error) throw finished;
    // The KE3 is the client MAC the server expects: the first half of the ExpectedAuthResult.
    expect(Uint8Array.from(finished.ke3.serialize())).toEqual(expected.subarray(0, 32));
  });

  it("keeps the event loop free while logins run", async () => {
    const record = deriveFakeRecord(oprfSeed, "bob");
    // With the arithmetic on OpenSSL one authInit is a few ms even inline, so there is no inline
    // stall to compare with any more: what is checked is that a burst through the pool never holds
    // the loop for long (it only waits for the OS scheduler and the replies).
    const poolStall = await longestStall(() => Promise.all(Array.from({ length: 8 }, () => pool.authInit("bob", ke1, record))));
    expect(poolStall).toBeLessThan(50);
  });

  it("answers InvalidArgument, and keeps working, when the library refuses a message", async () => {
    const notAPoint = Uint8Array.from(ke1);
    notAPoint.fill(7, 1, 33);
    const error = await rejection(pool.authInit("carol", notAPoint, deriveFakeRecord(oprfSeed, "carol")));
    expect(error.code).toBe("invalid_argument");
    expect(error.details.violations?.[0]?.field).toBe("ke1");
    await expect(pool.authInit("carol", ke1, deriveFakeRecord(oprfSeed, "carol"))).resolves.toHaveProperty("ke2");
  });
});

describe("OPAQUE worker pool limits and failures", () => {
  it("refuses with ResourceExhausted and a retry hint when every worker is busy and the queue is full", async () => {
    const pool = await OpaqueWorkerPool.start({ threads: 1, maxQueued: 1, keys, logger: silentLogger });
    try {
      const record = deriveFakeRecord(oprfSeed, "dave");
      const running = pool.authInit("dave", ke1, record);
      const queued = pool.authInit("dave", ke1, record);
      expect(pool.hasCapacity()).toBe(false);
      const refused = await rejection(pool.authInit("dave", ke1, record));
      expect(refused.code).toBe("resource_exhausted");
      expect(refused.details.retryAfterMs).toBeGreaterThan(0);
      await expect(Promise.all([running, queued])).resolves.toHaveLength(2);
      expect(pool.hasCapacity()).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("replaces a worker that crashes: its call fails with Unavailable, the queued call runs on the replacement", async () => {
    const pool = await OpaqueWorkerPool.start({ threads: 1, maxQueued: 4, keys, logger: silentLogger, workerUrl: CRASHING_WORKER });
    try {
      const record = deriveFakeRecord(oprfSeed, "erin");
      const crashing = rejection(pool.authInit("crash-me", ke1, record));
      const queued = pool.authInit("erin", ke1, record);
      expect((await crashing).code).toBe("unavailable");
      await expect(queued).resolves.toHaveProperty("ke2");
      expect(pool.stats().threads).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it("replaces a worker stuck past the call time limit", async () => {
    const pool = await OpaqueWorkerPool.start({
      threads: 1,
      maxQueued: 4,
      keys,
      logger: silentLogger,
      workerUrl: CRASHING_WORKER,
      // Well above a real cold authInit on a loaded 2-core machine, so only the hung call overruns.
      callTimeoutMs: 3_000,
    });
    try {
      const record = deriveFakeRecord(oprfSeed, "frank");
      expect((await rejection(pool.authInit("hang-me", ke1, record))).code).toBe("unavailable");
      await expect(pool.authInit("frank", ke1, record)).resolves.toHaveProperty("ke2");
    } finally {
      await pool.close();
    }
  });

  it("fails queued calls with Unavailable when closed", async () => {
    const pool = await OpaqueWorkerPool.start({ threads: 1, maxQueued: 4, keys, logger: silentLogger });
    const record = deriveFakeRecord(oprfSeed, "grace");
    const calls = [1, 2, 3].map(() => rejection(pool.authInit("grace", ke1, record)));
    await pool.close();
    for (const call of calls) expect((await call).code).toBe("unavailable");
    expect((await rejection(pool.authInit("grace", ke1, record))).code).toBe("unavailable");
  });
});
