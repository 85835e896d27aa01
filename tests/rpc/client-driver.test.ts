/**
 * The client driver (client/) against a real AuthService: registration and login through its steps
 * with the server's exact username normalization, and the client-side failures it reports.
 */
import { IdentityMemHardFn } from "@cloudflare/opaque-ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerLoginChallenge, logIn, sendLoginInit } from "../../client/login.js";
import { inProcessOpaque, OpaqueClientError, opaqueIdentity } from "../../client/opaque-client.js";
import { enrollTotp, register } from "../../client/registration.js";
import { normalizeUsername } from "../../server/auth/username.js";
import { type AuthHarness, from, rfc6238Code, startAuth } from "./auth-helpers.js";

let h: AuthHarness;
const opaque = inProcessOpaque(IdentityMemHardFn);

beforeAll(async () => {
  h = await startAuth({ REGISTER_MAX_PER_IP: "1000" });
});
afterAll(() => h.close());

/** Lower-casing "T" + U+0308 leaves "t" + U+0308, which only a second NFKC composes into "ẗ". */
const NEEDS_SECOND_NFKC = "MaT\u0308t";

describe("the client driver", () => {
  it("takes the server's normalized username as the OPAQUE identity", () => {
    for (const name of [NEEDS_SECOND_NFKC, "Alice", "ＡＢＣ１２", "İstanbul", "ΣΟΦΊΑ"]) {
      expect(opaqueIdentity(name), name).toBe(normalizeUsername(name));
    }
  });

  it("registers and logs in a username that NFKC must fold twice", async () => {
    const registration = await register(h.client, NEEDS_SECOND_NFKC, "correct horse battery", { opaque, callOptions: from("192.0.2.30") });
    expect(registration.username).toBe("ma\u1e97t");
    await enrollTotp(h.client, registration.enrollmentToken, (secret) => rfc6238Code(secret, h.ctx.clock.now()));
    const proof = await logIn(h.client, NEEDS_SECOND_NFKC, "correct horse battery", { opaque, callOptions: from("192.0.2.31") });
    expect(proof.loginToken).not.toBe("");
    expect(proof.username).toBe("ma\u1e97t");
    expect(proof.expiresAt?.getTime()).toBeGreaterThan(h.ctx.clock.now().getTime());
  });

  it("reports a wrong password as the client's finish step failing, before LoginFinish", async () => {
    await register(h.client, "driver-wrong-pw", "the right password", { opaque, callOptions: from("192.0.2.32") });
    const error = await logIn(h.client, "driver-wrong-pw", "not the password", { opaque, callOptions: from("192.0.2.33") }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpaqueClientError);
    expect((error as OpaqueClientError).step).toBe("finish");
    expect(((error as OpaqueClientError).cause as Error).message).toBe("EnvelopeRecoveryError");
  });

  it("reports a server answer that is not an OPAQUE message as unreadable", async () => {
    const login = await opaque.startLogin("whatever");
    const init = await sendLoginInit(h.client, "driver-nobody", login, { callOptions: from("192.0.2.34") });
    const garbled = { ...init, ke2: init.ke2.subarray(0, 10) };
    const error = await answerLoginChallenge(login, "driver-nobody", garbled).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpaqueClientError);
    expect((error as OpaqueClientError).step).toBe("read-answer");
  });
});
