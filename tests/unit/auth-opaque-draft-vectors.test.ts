/**
 * P-256 test vectors from the OPAQUE draft (OPAQUE-3DH Real Test Vectors 3 and 4, suite
 * P256_XMD:SHA-256_SSWU_RO_), transcribed from the draft text (wrapped hex lines joined), against
 * the native arithmetic. That revision derives the OPRF key exactly as opaque-ts 0.7.5 does (checked
 * below), but evaluates the OPRF as oprf_key·B, where voprf-ts 0.8.0 (VOPRF draft 08, with its
 * info-dependent scalar) computes (oprf_key + m)⁻¹·B; so whole messages (registration response,
 * KE2) cannot match opaque-ts, native or stock. What the vectors do pin down independently of both
 * libraries: every base-point product (server key, key shares) and the scalar products
 * oprf_key·(blinded element) in the registration response and in KE2. The stock voprf-ts code is run
 * on the same values, so a transcription error cannot pass as a native-path success.
 */
import { getOpaqueConfig, OpaqueID } from "@cloudflare/opaque-ts";
import { Group, GroupID, generatePublicKey, OprfID } from "@cloudflare/voprf-ts";
import { describe, expect, it } from "vitest";
import { PublicPoint, SecretScalar } from "../../server/auth/opaque/p256-native.mjs";

interface Vector {
  name: string;
  clientIdentity?: string;
  serverIdentity?: string;
  oprfSeed: string;
  credentialIdentifier: string;
  maskingNonce: string;
  serverPrivateKey: string;
  serverPublicKey: string;
  serverNonce: string;
  serverKeyshare: string;
  serverPrivateKeyshare: string;
  clientKeyshare: string;
  clientPrivateKeyshare: string;
  oprfKey: string;
  registrationRequest: string;
  registrationResponse: string;
  registrationUpload: string;
  ke1: string;
  ke2: string;
  ke3: string;
  sessionKey: string;
}

const VECTORS: Vector[] = [
  {
    name: "Real Test Vector 3 (no identities)",
    oprfSeed: "4d77dab871872dba848bdf20ed725f0fa3b58e7d8f3eab2a0aace261f61193c7",
    credentialIdentifier: "31323334",
    maskingNonce: "344022969d17d9cf4c88b7a9eec4c36bf64de079abb6dc7a1d46439446498f95",
    serverPrivateKey: "4c3ad31f016b68085d25f85613f5838cd7c6b1697f27bb5e8018e88ecfc53892",
    serverPublicKey: "03845043cc460779d3d868894fd28dcf4a0814e6fdd7b87769e6d4ba4c477df6e7",
    serverNonce: "69259e0708bdfab794f689eec14c7deb7edde68c81645156cf278f21161e3aaa",
    serverKeyshare: "02d7f81fa9773faf00efa7021a476abbfa77740267e841b5e55cf809944d436a93",
    serverPrivateKeyshare: "0d0518d56d002be476bd06c756aee97ba2912bab9b6a62cddf7d5e3209a2859f",
    registrationRequest: "03282f9e0421bf75d92335b924c4e8acea6299323e02299a999b818482a3b69be9",
    registrationResponse:
      "0243cdfb0b60cfe1435e03643bec83b3579a40c10e6352aa6f056cc4749f73765c03845043cc460779d3d868894fd28dcf4a0814e6fdd7b87769e6d4ba4c477df6e7",
    registrationUpload:
      "032c44882b558a6638f170d1d1808862ed2f9161927135871dd1521c9dbd8b342dde96555cb878e7e4dc22cba87a607119a45ef4228e6ff0da09f85342ff8749614a0f9f1984ff1f2a310fe428d9de5819bf63b3942dbe09f991ca0cf545e33a8f0990eef6097a8ddfd4d704c0fb19b181bff4b93c9219693be715045d30cfef69",
    ke1:
      "0337f1c7b981c4488967bf2808ff63a7e0fe194f09c2b72f98c4122a60fdb8def4e206269fe3eabd2b6e928b97b901c4819a3e89f48f9a72f09280e203ef27d9ef03753c309e7c68be892012552680ae399bb786cd2fc1ef92e928b285adec7296cb",
    ke2:
      "03e15aaf8ce6c8badc8737e88ed59f471ab08b1f9b5d5dd877ae445c4138117156344022969d17d9cf4c88b7a9eec4c36bf64de079abb6dc7a1d46439446498f956885d9a6758fc50faaf3c7e1472be27ee8cdfcdabe99164c2779e35e3c804526fe25a2ee83a8b185f1823ad7a8ba4a6109b95e63334aa8facc0455e3a748b196fd5ffbb90fff010b67d3a5f591453d310444fa4949ab4e871b1bd11c28b3fab72d69259e0708bdfab794f689eec14c7deb7edde68c81645156cf278f21161e3aaa02d7f81fa9773faf00efa7021a476abbfa77740267e841b5e55cf809944d436a935978b1d6c5c5e523d93098caaa5793d5aae9f5f13379cca6f63a6402e471a060",
    ke3: "1d5998a358fcfc8b4719e3b8175058d21eaf6c6ba828d1e89e4a119eaf57802c",
    clientKeyshare: "03753c309e7c68be892012552680ae399bb786cd2fc1ef92e928b285adec7296cb",
    clientPrivateKeyshare: "8525ce421747e59131ae68b478bfc59f5ef534d4e0092e8ef1bfe338aaa4b65d",
    oprfKey: "173909c7099b97c14e149aff13f2810a5145081fce81925202f7f6f80c87d1d9",
    sessionKey: "3011f590f59b9539b29981abb66f477a8dbc1d8f02f379d785c3da325972ebcd",
  },
  {
    name: "Real Test Vector 4 (client and server identities)",
    clientIdentity: "alice",
    serverIdentity: "bob",
    oprfSeed: "1f4b263b2b18c85bc0154de4711c04899739c0620dc94323d026011ac6def373",
    credentialIdentifier: "31323334",
    maskingNonce: "6f768fd0979f8dc006ca297e7954ebf0e81a893021ee24acc35e1a3f4b5e0366",
    serverPrivateKey: "8cc6b69daac7a90de8837d49708e76310767cbe4af18594dfcd436216c265831",
    serverPublicKey: "029022b70aac38a4b838dc694744e10ae6ece18414b5e5e5b294d1ee4ba2e1b592",
    serverNonce: "3179547a4489c8718048ba107066398cfe2f8b5b2c0cdd8afa9fcaf662e5f231",
    serverKeyshare: "0260f1b9fe339983392e915678594d4ef64b35184832a3ea93612ee738afe19431",
    serverPrivateKeyshare: "2c3542a08837b6c0709160251cbebe0d55e4423554c45da7a8952367cf336eb7",
    registrationRequest: "022c10067956d68ef7bcda9f087e20b0c9f64db7d92b11b35bb6ad7da84bdf2d94",
    registrationResponse:
      "0385142a349ddef7f35842e6def0f413fceea4c09a20f6f239101701f191c1a2ed029022b70aac38a4b838dc694744e10ae6ece18414b5e5e5b294d1ee4ba2e1b592",
    registrationUpload:
      "02d9ff4d5e5d414f75cca3fb9e71fb83dea6eaf1d281417a2c77f777e07d924affd78311649d3758e0a3cf6e550c7628481385af520897f75862b2a8ce82d1ed3c0051724f14d71ff13ba5add017512cce702800f4272cdae1976cbfbdfd6ba61d0ee9ad5982907791f19ea1e1f04108c787399772ff5c197311c53e258f72ae03",
    ke1:
      "02404ed848dc2f1546573a10d9118b0cee33f495eb7407a1eaf9861c4621d7b4afc42416787f78b5321bad1c8b6ad879e348e15bd698ee70b2c51d3e89d9c08b000396372f51d9440c44c8ddb84f45bb13280d19a7a289d16ff01f6813ba0e18ddca",
    ke2:
      "02ad1b8dd39670a911d3d6ce4f2deb2c4d81b166cabe12885badfe7f20eebb69686f768fd0979f8dc006ca297e7954ebf0e81a893021ee24acc35e1a3f4b5e03668a6891a733009bc350074f6dcd067be7b117e6d229dea8cdd5a5282a0dcd8a2e25b268a5aa7fd68204c0d3ccb4623ea3bafec0706ff6dcd62de5f1207a08888b265645da84384940a4007081ef1d0f4f1f386e11878f6cf9e580237d02543b07163179547a4489c8718048ba107066398cfe2f8b5b2c0cdd8afa9fcaf662e5f2310260f1b9fe339983392e915678594d4ef64b35184832a3ea93612ee738afe19431d7c98c1cc1dc382ad37643e10ff6f0ccc70a816a9426d386946e82256b5127d3",
    ke3: "5a2f3a2e80d594f4448b35205f20bb30c0bf404f97cc06c665e681d1f6c2e96c",
    clientKeyshare: "0396372f51d9440c44c8ddb84f45bb13280d19a7a289d16ff01f6813ba0e18ddca",
    clientPrivateKeyshare: "939993624b8a7c3b024164f8935dbe56fc7fc92082ebd907ef6e6a63f214dc05",
    oprfKey: "4a8cfd04212a68b62b1853d6869b734e62ad38a7fd4e14a20a505502d1c45054",
    sessionKey: "582987ea4c533e16b6903cc676b0e816b953c70295cdb9ee1083db915359284e",
  },
];

const gg = new Group(GroupID.P256);
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, "hex"));
const hex = (value: ArrayLike<number>): string => Buffer.from(Uint8Array.from(value)).toString("hex");

function nativeMultiply(scalar: string, point: string): string {
  return hex(SecretScalar.load(bytes(scalar))!.multiply(PublicPoint.decode(bytes(point))!)!);
}
function stockMultiply(scalar: string, point: string): string {
  return hex(gg.serialize(Group.mul(gg.deserializeScalar(bytes(scalar) as never), gg.deserialize(bytes(point) as never))));
}

describe.each(VECTORS)("OPAQUE draft P-256 $name", (vector) => {
  const keyPairs: Array<[string, string, string]> = [
    ["server key", vector.serverPrivateKey, vector.serverPublicKey],
    ["server key share", vector.serverPrivateKeyshare, vector.serverKeyshare],
    ["client key share", vector.clientPrivateKeyshare, vector.clientKeyshare],
  ];
  it.each(keyPairs)("base-point product: %s", (_name, privateKey, publicKey) => {
    expect(hex(SecretScalar.load(bytes(privateKey))!.publicKey())).toBe(publicKey);
    expect(hex(generatePublicKey(OprfID.OPRF_P256_SHA256, bytes(privateKey)))).toBe(publicKey);
  });

  it("scalar products: oprf_key times the blinded elements of the registration request and of KE1", () => {
    const registrationEvaluation = vector.registrationResponse.slice(0, 66);
    const loginEvaluation = vector.ke2.slice(0, 66);
    const loginBlinded = vector.ke1.slice(0, 66);
    expect(nativeMultiply(vector.oprfKey, vector.registrationRequest)).toBe(registrationEvaluation);
    expect(nativeMultiply(vector.oprfKey, loginBlinded)).toBe(loginEvaluation);
    expect(stockMultiply(vector.oprfKey, vector.registrationRequest)).toBe(registrationEvaluation);
    expect(stockMultiply(vector.oprfKey, loginBlinded)).toBe(loginEvaluation);
  });

  it("opaque-ts derives the vector's OPRF key from its seed (the part of the OPRF the library keeps)", async () => {
    const cfg = getOpaqueConfig(OpaqueID.OPAQUE_P256);
    const info = new Uint8Array([...bytes(vector.credentialIdentifier), ...Buffer.from("OprfKey")]);
    const seed = await cfg.kdf.expand(bytes(vector.oprfSeed), info, 32);
    expect(hex(await cfg.oprf.deriveOPRFKey(seed))).toBe(vector.oprfKey);
  });
});
