/**
 * The server the workers run (opaque-ts's OpaqueServer with its arithmetic on OpenSSL) against the
 * stock opaque-ts 0.7.5 server, byte for byte, given the same randomness; and an account
 * registered by the stock server logging in through the production operations.
 * Each case runs the stock server too (~150 ms of sjcl), hence a few dozen cases.
 */
import { randomBytes } from "node:crypto";
import {
  getOpaqueConfig,
  IdentityMemHardFn,
  KE1,
  KE2,
  OpaqueClient,
  OpaqueID,
  OpaqueServer,
  RegistrationRecord,
  RegistrationRequest,
  RegistrationResponse,
  type Config,
} from "@cloudflare/opaque-ts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deriveFakeRecord } from "../../server/auth/opaque/fake-record.js";
import { getNativeOpaqueConfig, NativeOpaqueServer, PINNED_VERSIONS } from "../../server/auth/opaque/native-opaque-server.mjs";
import { createOpaqueOperations, OpaqueInputError } from "../../server/auth/opaque/opaque-operations.mjs";

const stockCfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);
const hex = (bytes: ArrayLike<number>): string => Buffer.from(Uint8Array.from(bytes)).toString("hex");

interface Randomness {
  maskingNonce: number[];
  serverNonce: number[];
  keyShare: { private_key: number[]; public_key: number[] };
}

/** Makes `cfg`'s randomness (nonces, then the server's key share) the given values. */
function withRandomness(cfg: Config, randomness: Randomness): Config {
  const nonces = [randomness.maskingNonce, randomness.serverNonce];
  (cfg as { prng: Config["prng"] }).prng = { random: () => nonces.shift()! } as Config["prng"];
  cfg.ake.generateAuthKeyPair = async () => randomness.keyShare;
  return cfg;
}

async function stockKeyPair(): Promise<{ private_key: number[]; public_key: number[] }> {
  return stockCfg.ake.generateAuthKeyPair();
}

describe("the native OPAQUE server", () => {
  it("answers RegisterInit and LoginInit exactly as the stock server (30 random accounts, logins and randomness)", async () => {
    const seed = Array.from(randomBytes(32));
    const serverKeys = await stockKeyPair();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.boolean(),
        async (username, password, fakeRecord) => {
          const client = new OpaqueClient(stockCfg, IdentityMemHardFn);
          const request = await client.registerInit(password);
          if (request instanceof Error) throw request;
          const stock = new OpaqueServer(getOpaqueConfig(OpaqueID.OPAQUE_P256), seed, serverKeys, "cypher");
          const native = new NativeOpaqueServer(getNativeOpaqueConfig(), seed, serverKeys, "cypher");
          const stockResponse = await stock.registerInit(request, username);
          const nativeResponse = await native.registerInit(request, username);
          if (stockResponse instanceof Error || nativeResponse instanceof Error) throw new Error("registerInit failed");
          expect(hex(nativeResponse.serialize())).toBe(hex(stockResponse.serialize()));

          const finished = await client.registerFinish(RegistrationResponse.deserialize(stockCfg, nativeResponse.serialize()), "cypher", username);
          if (finished instanceof Error) throw finished;
          const record = fakeRecord
            ? RegistrationRecord.deserialize(stockCfg, Array.from(deriveFakeRecord(Uint8Array.from(seed), username)))
            : finished.record;

          const login = new OpaqueClient(stockCfg, IdentityMemHardFn);
          const ke1 = await login.authInit(password);
          if (ke1 instanceof Error) throw ke1;
          const randomness: Randomness = {
            maskingNonce: Array.from(randomBytes(32)),
            serverNonce: Array.from(randomBytes(32)),
            keyShare: await stockKeyPair(),
          };
          const stockLogin = new OpaqueServer(withRandomness(getOpaqueConfig(OpaqueID.OPAQUE_P256), randomness), seed, serverKeys, "cypher");
          const nativeLogin = new NativeOpaqueServer(withRandomness(getNativeOpaqueConfig(), randomness), seed, serverKeys, "cypher");
          const a = await stockLogin.authInit(ke1, record, username, username);
          const b = await nativeLogin.authInit(ke1, record, username, username);
          if (a instanceof Error || b instanceof Error) throw new Error("authInit failed");
          expect(hex(b.ke2.serialize())).toBe(hex(a.ke2.serialize()));
          expect(hex(b.expected.serialize())).toBe(hex(a.expected.serialize()));

          const done = await login.authFinish(KE2.deserialize(stockCfg, b.ke2.serialize()), "cypher", username);
          expect(done instanceof Error).toBe(fakeRecord);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("refuses KE1s and requests whose elements are not points the way the stock server does", async () => {
    const seed = Array.from(randomBytes(32));
    const serverKeys = await stockKeyPair();
    const stock = new OpaqueServer(getOpaqueConfig(OpaqueID.OPAQUE_P256), seed, serverKeys, "cypher");
    const native = new NativeOpaqueServer(getNativeOpaqueConfig(), seed, serverKeys, "cypher");
    const record = RegistrationRecord.deserialize(stockCfg, Array.from(deriveFakeRecord(Uint8Array.from(seed), "x")));
    const ke1 = await new OpaqueClient(stockCfg, IdentityMemHardFn).authInit("pw");
    if (ke1 instanceof Error) throw ke1;
    const valid = ke1.serialize();
    // x = 3 is not on P-256; a 0x04 prefix on 33 bytes is not an encoding at all.
    const notOnCurve = [0x02, ...new Array(31).fill(0), 3];
    const badPrefix = [0x04, ...valid.slice(1, 33)];
    const outcome = async (run: () => Promise<unknown>): Promise<string> => {
      try {
        const result = await run();
        return result instanceof Error ? `returned ${result.message}` : "ok";
      } catch (error) {
        return `threw ${(error as Error).message}`;
      }
    };
    for (const element of [notOnCurve, badPrefix]) {
      const blindedBad = KE1.deserialize(stockCfg, [...element, ...valid.slice(33)]);
      const keyshareBad = KE1.deserialize(stockCfg, [...valid.slice(0, 65), ...element]);
      for (const bad of [blindedBad, keyshareBad]) {
        const expected = await outcome(() => stock.authInit(bad, record, "x", "x"));
        expect(expected).not.toBe("ok");
        expect(await outcome(() => native.authInit(bad, record, "x", "x"))).toBe(expected);
      }
      const request = RegistrationRequest.deserialize(stockCfg, element);
      const expected = await outcome(() => stock.registerInit(request, "x"));
      expect(expected).not.toBe("ok");
      expect(await outcome(() => native.registerInit(request, "x"))).toBe(expected);
    }
  });

  it("makes the same long-term public key as the stock library", async () => {
    for (let i = 0; i < 10; i++) {
      const { private_key, public_key } = await stockKeyPair();
      expect(hex(getNativeOpaqueConfig().ake.recoverPublicKey(Uint8Array.from(private_key)).public_key)).toBe(hex(public_key));
    }
  });

  it("is pinned to the library versions it reaches into", () => {
    expect(PINNED_VERSIONS).toEqual({ "@cloudflare/opaque-ts": "0.7.5", "@cloudflare/voprf-ts": "0.8.0" });
  });
});

describe("accounts registered by the stock server", () => {
  it("log in through the production operations (native arithmetic), and a wrong password still fails", async () => {
    const seed = randomBytes(32);
    const serverKeys = await stockKeyPair();
    // Registration entirely by the stock opaque-ts server, as before this change.
    const stock = new OpaqueServer(getOpaqueConfig(OpaqueID.OPAQUE_P256), Array.from(seed), serverKeys, "cypher");
    const client = new OpaqueClient(stockCfg, IdentityMemHardFn);
    const request = await client.registerInit("correct horse");
    if (request instanceof Error) throw request;
    const response = await stock.registerInit(request, "alice");
    if (response instanceof Error) throw response;
    const finished = await client.registerFinish(response, "cypher", "alice");
    if (finished instanceof Error) throw finished;
    const record = Uint8Array.from(finished.record.serialize());

    const operations = createOpaqueOperations({
      oprfSeed: seed,
      akePrivateKey: Uint8Array.from(serverKeys.private_key),
      akePublicKey: Uint8Array.from(serverKeys.public_key),
      serverIdentity: "cypher",
    });
    for (const [password, succeeds] of [["correct horse", true], ["wrong horse", false]] as const) {
      const login = new OpaqueClient(stockCfg, IdentityMemHardFn);
      const ke1 = await login.authInit(password);
      if (ke1 instanceof Error) throw ke1;
      const { ke2, expected } = await operations.authInit("alice", Uint8Array.from(ke1.serialize()), record);
      const done = await login.authFinish(KE2.deserialize(stockCfg, Array.from(ke2)), "cypher", "alice");
      if (!succeeds) {
        expect(done).toBeInstanceOf(Error);
        continue;
      }
      if (done instanceof Error) throw done;
      expect(hex(done.ke3.serialize())).toBe(hex(expected.subarray(0, 32)));
      expect(hex(done.session_key)).toBe(hex(expected.subarray(32)));
    }
  });

  it("the production operations answer a KE1 with a non-point element with OpaqueInputError(ke1)", async () => {
    const seed = randomBytes(32);
    const serverKeys = await stockKeyPair();
    const operations = createOpaqueOperations({
      oprfSeed: seed,
      akePrivateKey: Uint8Array.from(serverKeys.private_key),
      akePublicKey: Uint8Array.from(serverKeys.public_key),
      serverIdentity: "cypher",
    });
    const ke1 = await new OpaqueClient(stockCfg, IdentityMemHardFn).authInit("pw");
    if (ke1 instanceof Error) throw ke1;
    const bad = Uint8Array.from(ke1.serialize());
    bad.set([0x02, ...new Array(31).fill(0), 3], 65); // x = 3 is not on P-256
    const error = await operations.authInit("x", bad, deriveFakeRecord(seed, "x")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpaqueInputError);
    expect((error as OpaqueInputError).field).toBe("ke1");
  });
});
