/**
 * The OPAQUE draft-07 test vectors for the P-256 suite (P256_XMD:SHA-256_SSWU_RO_, 3DH, HKDF and
 * HMAC-SHA256, identity MHF): the two real vectors and the fake-record vector that opaque-ts 0.7.5
 * itself is tested with (draft-irtf-cfrg-opaque-07, appendix "Test Vectors"; the fields the server
 * side needs are in fixtures/opaque-draft07-p256-vectors.json).
 *
 * The server under test is the production one, NativeOpaqueServer on getNativeOpaqueConfig(), with
 * only its randomness (the masking nonce, the server nonce, the ephemeral key share) replaced by the
 * vector's values. Every server message must match the vector byte for byte, and the native
 * arithmetic must have done every scalar multiplication: the sjcl fallback (voprf-ts's Group.mul) is
 * watched and must never run. The stock server runs the same vectors, so a harness error cannot pass
 * as a fast-path success.
 */
import {
  getOpaqueConfig,
  KE1,
  KE3,
  OpaqueID,
  OpaqueServer,
  RegistrationRecord,
  RegistrationRequest,
  type Config,
} from "@cloudflare/opaque-ts";
import { Group } from "@cloudflare/voprf-ts";
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { getNativeOpaqueConfig, NativeOpaqueServer } from "../../server/auth/opaque/native-opaque-server.mjs";
import { SecretScalar } from "../../server/auth/opaque/p256-native.mjs";
import vectors from "./fixtures/opaque-draft07-p256-vectors.json" with { type: "json" };

type Vector = (typeof vectors)[number] & Partial<Record<"client_identity" | "server_identity" | "client_public_key" | "masking_key", string>>;

const bytes = (hex: string): number[] => Array.from(Buffer.from(hex, "hex"));
const text = (hex: string | undefined): string | undefined => (hex === undefined ? undefined : Buffer.from(hex, "hex").toString("utf8"));
const hex = (value: ArrayLike<number>): string => Buffer.from(Uint8Array.from(value)).toString("hex");

/** Draft-07's fake record: the vector's client public key and masking key, and an all-zero envelope. */
const ENVELOPE_BYTES = 64;

const realVectors = (vectors as Vector[]).filter((vector) => vector.registration_request !== undefined);
const fakeVectors = (vectors as Vector[]).filter((vector) => vector.registration_request === undefined);

const servers = [
  { name: "the native server (production)", config: getNativeOpaqueConfig, Server: NativeOpaqueServer, native: true },
  { name: "the stock opaque-ts server", config: () => getOpaqueConfig(OpaqueID.OPAQUE_P256), Server: OpaqueServer, native: false },
];

/** `cfg` drawing the vector's masking nonce, server nonce and key share instead of fresh randomness. */
function withVectorRandomness(cfg: Config, vector: Vector): Config {
  const nonces = [bytes(vector.masking_nonce), bytes(vector.server_nonce)];
  (cfg as { prng: Config["prng"] }).prng = { random: () => nonces.shift()! } as Config["prng"];
  cfg.ake.generateAuthKeyPair = async () => ({
    private_key: bytes(vector.server_private_keyshare),
    public_key: bytes(vector.server_keyshare),
  });
  return cfg;
}

function serverFor(server: (typeof servers)[number], vector: Vector): { cfg: Config; opaque: OpaqueServer } {
  const cfg = withVectorRandomness(server.config(), vector);
  const keys = { private_key: bytes(vector.server_private_key), public_key: bytes(vector.server_public_key) };
  return { cfg, opaque: new server.Server(cfg, bytes(vector.oprf_seed), keys, text(vector.server_identity)) };
}

function recordOf(vector: Vector): number[] {
  if (vector.registration_upload !== undefined) return bytes(vector.registration_upload);
  return [...bytes(vector.client_public_key!), ...bytes(vector.masking_key!), ...new Array<number>(ENVELOPE_BYTES).fill(0)];
}

async function ke2For(server: (typeof servers)[number], vector: Vector): Promise<{ ke2: string; sessionKey?: string }> {
  const { cfg, opaque } = serverFor(server, vector);
  const ke1 = KE1.deserialize(cfg, bytes(vector.KE1));
  const record = RegistrationRecord.deserialize(cfg, recordOf(vector));
  const answer = await opaque.authInit(ke1, record, text(vector.credential_identifier)!, text(vector.client_identity), text(vector.context));
  if (answer instanceof Error) throw answer;
  if (vector.KE3 === undefined) return { ke2: hex(answer.ke2.serialize()) };
  const finish = opaque.authFinish(KE3.deserialize(cfg, bytes(vector.KE3)), answer.expected);
  if (finish instanceof Error) throw finish;
  return { ke2: hex(answer.ke2.serialize()), sessionKey: hex(finish.session_key) };
}

let sjclMultiplications: MockInstance;
let nativeMultiplications: MockInstance;
beforeEach(() => {
  sjclMultiplications = vi.spyOn(Group, "mul");
  nativeMultiplications = vi.spyOn(SecretScalar.prototype, "multiply");
});
afterEach(() => vi.restoreAllMocks());

describe.each(servers)("OPAQUE draft-07 P-256 vectors through $name", (server) => {
  /** The native server must multiply in OpenSSL only; the stock one in sjcl only. */
  function expectArithmeticOn(nativeCalls: number): void {
    if (server.native) {
      expect(sjclMultiplications).not.toHaveBeenCalled();
      expect(nativeMultiplications).toHaveBeenCalledTimes(nativeCalls);
    } else {
      expect(sjclMultiplications).toHaveBeenCalled();
      expect(nativeMultiplications).not.toHaveBeenCalled();
    }
  }

  it.each(realVectors)("$name: RegisterInit answers the registration response", async (vector) => {
    const { cfg, opaque } = serverFor(server, vector);
    const request = RegistrationRequest.deserialize(cfg, bytes(vector.registration_request!));
    const response = await opaque.registerInit(request, text(vector.credential_identifier)!);
    if (response instanceof Error) throw response;
    expect(hex(response.serialize())).toBe(vector.registration_response);
    expectArithmeticOn(1);
  });

  it.each(realVectors)("$name: LoginInit answers KE2 and LoginFinish accepts KE3 with the session key", async (vector) => {
    const { ke2, sessionKey } = await ke2For(server, vector);
    expect(ke2).toBe(vector.KE2);
    expect(sessionKey).toBe(vector.session_key);
    // One OPRF evaluation and the three 3DH products.
    expectArithmeticOn(4);
  });

  it.each(fakeVectors)("$name: LoginInit against the fake record answers KE2", async (vector) => {
    const { ke2 } = await ke2For(server, vector);
    expect(ke2).toBe(vector.KE2);
    expectArithmeticOn(4);
  });
});

it("a vector with one byte of the KE3 changed is refused by the native server", async () => {
  const vector = realVectors[0]!;
  const { cfg, opaque } = serverFor(servers[0]!, vector);
  const answer = await opaque.authInit(
    KE1.deserialize(cfg, bytes(vector.KE1)),
    RegistrationRecord.deserialize(cfg, recordOf(vector)),
    text(vector.credential_identifier)!,
    text(vector.client_identity),
    text(vector.context),
  );
  if (answer instanceof Error) throw answer;
  const ke3 = bytes(vector.KE3!);
  ke3[0] = ke3[0]! ^ 1;
  expect(opaque.authFinish(KE3.deserialize(cfg, ke3), answer.expected)).toBeInstanceOf(Error);
});
