/**
 * Stand-in OPAQUE records for usernames that cannot log in (unknown, or a pending account). LoginInit
 * runs the real authInit against one, so the answer has the same size, shape and cost as a real
 * user's, and the client fails exactly as with a wrong password (it cannot open the envelope).
 *
 * opaque-ts's `RegistrationRecord.createFake` is random per call, but a real user's record never
 * changes, and RFC 9807 (client enumeration) asks the same of a fake one: whatever a prober can
 * observe across repeated LoginInits for one name must behave as it would for a real account. So
 * the record is derived from the username and a server secret: HKDF-SHA256 of the OPRF seed with a
 * label of its own (OPAQUE never uses it) and the username as context. Same username, same record,
 * on every instance and after every restart; without the seed, not predictable.
 *
 * Layout as a real record: client public key (33, a valid P-256 point) ‖ masking key (32) ‖
 * envelope (32 + 32). The key pair is made natively (node:crypto), ~0.05 ms, so fake logins cost
 * the same as real ones within noise (the record lookup is the same query either way).
 */
import { createECDH, hkdfSync } from "node:crypto";
import { OPAQUE_SIZES } from "./opaque-messages.js";

const LABEL = "cypher fake-opaque-record v1";
/** Order of the P-256 group. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** 48 bytes reduced mod n-1: the bias is ~2^-128, as hash_to_field does it. */
const SCALAR_SOURCE_BYTES = 48;
const MASKING_KEY_BYTES = 32;
const ENVELOPE_BYTES = 64;

export function deriveFakeRecord(oprfSeed: Uint8Array, username: string): Uint8Array {
  const info = Buffer.concat([Buffer.from(LABEL, "utf8"), Buffer.from([0]), Buffer.from(username, "utf8")]);
  const material = Buffer.from(
    hkdfSync("sha256", oprfSeed, new Uint8Array(0), info, SCALAR_SOURCE_BYTES + MASKING_KEY_BYTES + ENVELOPE_BYTES),
  );
  const scalar = (BigInt("0x" + material.subarray(0, SCALAR_SOURCE_BYTES).toString("hex")) % (P256_N - 1n)) + 1n;
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(scalar.toString(16).padStart(64, "0"), "hex"));
  const publicKey = ecdh.getPublicKey(null, "compressed");
  const record = new Uint8Array(OPAQUE_SIZES.registrationRecord);
  record.set(publicKey, 0);
  record.set(material.subarray(SCALAR_SOURCE_BYTES), OPAQUE_SIZES.element);
  return record;
}
