/**
 * Drives the Cypher web app the way a person does: through labels, roles and the keyboard. Shared
 * by the end-to-end tests and the screenshot script.
 */
import type { Page } from "playwright-core";
import { totpCodeAt } from "../../../server/auth/totp.js";

export type ScreenName =
  | "loading"
  | "login"
  | "register"
  | "enroll"
  | "recovery-codes"
  | "second-factor"
  | "sessions"
  | "security"
  | "step-up"
  | "change-password"
  | "replace-authenticator"
  | "new-recovery-codes"
  | "delete-account";

export async function waitForScreen(page: Page, name: ScreenName, timeoutMs = 20_000): Promise<void> {
  await page.waitForSelector(`#app[data-screen="${name}"]`, { timeout: timeoutMs });
}

/** A TOTP code for `steps` 30-second steps from now (each step is accepted once per account). */
export async function totpCode(secret: string, steps = 0): Promise<string> {
  return await totpCodeAt(secret, new Date(Date.now() + steps * 30_000));
}

/** A 6-digit code that is wrong at every step the server accepts now. */
export async function wrongTotpCode(secret: string): Promise<string> {
  const valid = new Set(await Promise.all([-1, 0, 1, 2].map((s) => totpCode(secret, s))));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, "0");
    if (!valid.has(candidate)) return candidate;
  }
}

export interface Registered {
  secret: string;
  recoveryCodes: string[];
}

/** From the login screen to the recovery codes screen (left there, codes not yet confirmed). */
export async function registerUntilRecoveryCodes(page: Page, username: string, password: string): Promise<Registered> {
  await page.getByRole("button", { name: "Create an account" }).click();
  await waitForScreen(page, "register");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Repeat password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await waitForScreen(page, "enroll");
  await page.waitForSelector("img.qr");
  const secret = await page.locator(".secret").getAttribute("data-secret");
  if (!secret) throw new Error("the enrollment screen shows no secret");
  await page.getByLabel("6-digit code").fill(await totpCode(secret));
  await page.getByRole("button", { name: "Confirm and activate" }).click();
  await waitForScreen(page, "recovery-codes");
  const recoveryCodes = await page.locator(".codes .code").allTextContents();
  return { secret, recoveryCodes };
}

/** Registration all the way to the login screen. */
export async function register(page: Page, username: string, password: string): Promise<Registered> {
  const registered = await registerUntilRecoveryCodes(page, username, password);
  await page.getByLabel("I have stored my recovery codes somewhere safe").check();
  await page.getByRole("button", { name: "Continue to log in" }).click();
  await waitForScreen(page, "login");
  return registered;
}

export type Factor = { totpSecret: string; steps?: number } | { recoveryCode: string };

/** From the login screen to the sessions screen. */
export async function logIn(page: Page, username: string, password: string, factor: Factor): Promise<void> {
  await waitForScreen(page, "login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Continue" }).click();
  await waitForScreen(page, "second-factor");
  if ("recoveryCode" in factor) {
    await page.getByRole("button", { name: "Use a recovery code instead" }).click();
    await page.getByLabel("Recovery code").fill(factor.recoveryCode);
  } else {
    await page.getByLabel("Authentication code").fill(await totpCode(factor.totpSecret, factor.steps ?? 0));
  }
  await page.getByRole("button", { name: "Verify" }).click();
  await waitForScreen(page, "sessions");
  await page.waitForSelector(".device-slot .device");
}

/**
 * On the step-up screen ("Confirm it's you"): the password and a code, then Continue. Waits for
 * nothing: the caller says which screen (or error) should follow.
 */
export async function confirmIdentity(page: Page, password: string, factor: Factor | { totpCode: string }): Promise<void> {
  await waitForScreen(page, "step-up");
  await page.getByLabel("Password", { exact: true }).fill(password);
  if ("recoveryCode" in factor) {
    if (await page.getByRole("button", { name: "Use a recovery code instead" }).isVisible()) {
      await page.getByRole("button", { name: "Use a recovery code instead" }).click();
    }
    await page.getByLabel("Recovery code").fill(factor.recoveryCode);
  } else {
    const code = "totpCode" in factor ? factor.totpCode : await totpCode(factor.totpSecret, factor.steps ?? 0);
    await page.getByLabel("Authentication code").fill(code);
  }
  await page.getByRole("button", { name: "Continue" }).click();
}

/** From the devices page to the Security page, with the account's facts loaded. */
export async function openSecurity(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Security" }).click();
  await waitForScreen(page, "security");
  await page.waitForSelector("[data-recovery-codes-remaining]");
}

/** Everything page JavaScript can read that might hold a secret. */
export async function readableStorage(page: Page): Promise<{ cookie: string; local: string; session: string; indexedDbNames: string[] }> {
  return await page.evaluate(async () => {
    const dump = (s: Storage) => JSON.stringify(Object.fromEntries(Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i) ?? "")])));
    const databases = "databases" in indexedDB ? await indexedDB.databases() : [];
    return {
      cookie: document.cookie,
      local: dump(localStorage),
      session: dump(sessionStorage),
      indexedDbNames: databases.map((d) => d.name ?? ""),
    };
  });
}
