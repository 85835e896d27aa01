/**
 * The Security page in real headless Chromium against a real Cypher: each account change as a
 * person makes it (password and code first, then the change), and what they see afterwards. The
 * accounts are made from Node with the app's own client library, to keep the time on these screens.
 *
 * TOTP steps: registration spends the current step, so a login here uses the next one, and every
 * further proof is a recovery code (a step is accepted once per account).
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCypherClients, createCypherTransport } from "../../web/src/client/clients.js";
import { confirmTotp, register as registerAccount, setupTotp } from "../../web/src/client/register.js";
import { confirmIdentity, logIn, openSecurity, register, totpCode, waitForScreen, wrongTotpCode } from "./support/app-driver.js";
import { CHROMIUM_MISSING_REASON, chromiumAvailable, launchChromium } from "./support/chromium.js";
import { startAppServer, type AppServer } from "./support/cypher-app-server.js";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "purple monkey dishwasher tonight";
const WRONG_CODES_ALLOWED = 3;

const describeInChromium = chromiumAvailable ? describe : describe.skip;

let counter = 0;
function uniqueUsername(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

describeInChromium(chromiumAvailable ? "the Security page in Chromium" : CHROMIUM_MISSING_REASON, () => {
  let app: AppServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function openApp(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (err) => {
      throw new Error(`uncaught error in the page: ${err.message}`);
    });
    await page.goto(`${app.baseUrl}/`);
    return page;
  }

  /** An active account, made from Node; its current TOTP step is spent. */
  async function newAccount(prefix: string): Promise<{ username: string; secret: string; recoveryCodes: string[] }> {
    const username = uniqueUsername(prefix);
    const clients = createCypherClients(createCypherTransport({ baseUrl: app.baseUrl }));
    const enrollment = await registerAccount(clients, username, PASSWORD);
    const { secret } = await setupTotp(clients, enrollment);
    const recoveryCodes = await confirmTotp(clients, enrollment, await totpCode(secret));
    return { username, secret, recoveryCodes };
  }

  async function alertText(page: Page, text: string | RegExp): Promise<void> {
    await expect.poll(() => page.getByText(text).first().isVisible()).toBe(true);
  }

  async function logOut(page: Page): Promise<void> {
    if (!(await page.locator('#app[data-screen="sessions"]').count())) await page.getByRole("button", { name: "Devices" }).click();
    await waitForScreen(page, "sessions");
    await page.getByRole("button", { name: "Log out", exact: true }).click();
    await waitForScreen(page, "login");
  }

  /** The login screen's second step with a code that must be refused; stays on that screen. */
  async function expectCodeRefusedAtLogin(page: Page, username: string, password: string, code: { totp: string } | { recovery: string }): Promise<void> {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Continue" }).click();
    await waitForScreen(page, "second-factor");
    if ("recovery" in code) {
      await page.getByRole("button", { name: "Use a recovery code instead" }).click();
      await page.getByLabel("Recovery code").fill(code.recovery);
    } else {
      await page.getByLabel("Authentication code").fill(code.totp);
    }
    await page.getByRole("button", { name: "Verify" }).click();
    await alertText(page, "That code is not right");
    expect(await page.locator('#app[data-screen="second-factor"]').count()).toBe(1);
  }

  beforeAll(async () => {
    // A low cap on wrong second factors, so the rate-limit test reaches it in a few tries (a right
    // code starts the count afresh, so the other tests' single wrong codes never reach it).
    [app, browser] = await Promise.all([startAppServer({ SECOND_FACTOR_MAX_FAILURES_PER_ACCOUNT: String(WRONG_CODES_ALLOWED) }), launchChromium()]);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.stop();
  });

  it("changes the password: the old one is refused, the new one works, the other device is logged out", { timeout: 120_000 }, async () => {
    const { username, secret, recoveryCodes } = await newAccount("pw");
    const laptop = await openApp();
    await logIn(laptop, username, PASSWORD, { totpSecret: secret, steps: 1 });
    const phone = await openApp();
    await logIn(phone, username, PASSWORD, { recoveryCode: recoveryCodes[0]! });

    await openSecurity(laptop);
    expect(await laptop.locator("[data-recovery-codes-remaining]").textContent()).toBe("9");
    expect(await laptop.getByText("Not changed since registration").isVisible()).toBe(true);
    await laptop.getByRole("button", { name: "Change password" }).click();

    // A wrong password is found out before any code is spent.
    await confirmIdentity(laptop, "not my password at all", { recoveryCode: recoveryCodes[1]! });
    await alertText(laptop, "That password is not right.");
    expect(await laptop.getByLabel("Password", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await confirmIdentity(laptop, PASSWORD, { recoveryCode: recoveryCodes[1]! });
    await waitForScreen(laptop, "change-password");

    await laptop.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
    await laptop.getByLabel("Repeat new password").fill(`${NEW_PASSWORD}!`);
    await laptop.getByRole("button", { name: "Change password" }).click();
    await alertText(laptop, "The passwords do not match.");
    await laptop.getByLabel("Repeat new password").fill(NEW_PASSWORD);
    await laptop.getByRole("button", { name: "Change password" }).click();
    await waitForScreen(laptop, "security");
    await alertText(laptop, "Your password has been changed, and your other devices have been logged out.");
    await expect.poll(() => laptop.getByText(/^Changed /).isVisible()).toBe(true);

    // The other device finds out on its next call.
    await phone.getByRole("button", { name: "Refresh the list of devices" }).click();
    await waitForScreen(phone, "login");
    await alertText(phone, "Your session has ended");

    // The old password is refused; the new one logs in.
    await phone.getByLabel("Username").fill(username);
    await phone.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await phone.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => phone.getByRole("alert").textContent()).toBe("Wrong username or password.");
    await logIn(phone, username, NEW_PASSWORD, { recoveryCode: recoveryCodes[2]! });
    // The laptop's session stayed.
    await laptop.getByRole("button", { name: "Devices" }).click();
    await waitForScreen(laptop, "sessions");
    await expect.poll(() => laptop.locator(".device-list .device").count()).toBe(1);
  });

  it("replaces the authenticator: a code of the old secret is refused afterwards, the new one works", { timeout: 120_000 }, async () => {
    const { username, secret, recoveryCodes } = await newAccount("totp");
    const page = await openApp();
    await logIn(page, username, PASSWORD, { recoveryCode: recoveryCodes[0]! });
    await openSecurity(page);
    await page.getByRole("button", { name: "Replace authenticator" }).click();

    await confirmIdentity(page, PASSWORD, { totpCode: await wrongTotpCode(secret) });
    await alertText(page, "That code is not right. Try again, or use a recovery code.");
    expect(await page.getByLabel("Authentication code").getAttribute("aria-invalid")).toBe("true");
    await confirmIdentity(page, PASSWORD, { totpSecret: secret, steps: 1 });
    await waitForScreen(page, "replace-authenticator");

    const qr = page.getByRole("img", { name: /QR code/ });
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    const newSecret = (await page.locator(".secret").getAttribute("data-secret")) ?? "";
    expect(newSecret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(newSecret).not.toBe(secret);
    // A code of the OLD authenticator does not confirm the new one.
    await page.getByLabel("6-digit code").fill(await totpCode(secret));
    await page.getByRole("button", { name: "Confirm new authenticator" }).click();
    await alertText(page, "Enter the code your new authenticator app shows now.");
    await page.getByLabel("6-digit code").fill(await totpCode(newSecret));
    await page.getByRole("button", { name: "Confirm new authenticator" }).click();
    await waitForScreen(page, "security");
    await alertText(page, "Your new authenticator is set up. Codes from the old one no longer work.");

    await logOut(page);
    await expectCodeRefusedAtLogin(page, username, PASSWORD, { totp: await totpCode(secret, 1) });
    await page.getByLabel("Authentication code").fill(await totpCode(newSecret, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await waitForScreen(page, "sessions");
  });

  it("makes new recovery codes: an old one is refused afterwards, a new one works", { timeout: 120_000 }, async () => {
    const { username, secret, recoveryCodes } = await newAccount("codes");
    const page = await openApp();
    await logIn(page, username, PASSWORD, { totpSecret: secret, steps: 1 });
    await openSecurity(page);
    expect(await page.locator("[data-recovery-codes-remaining]").textContent()).toBe("10");
    await page.getByRole("button", { name: "Make new recovery codes" }).click();
    await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[0]! });
    await waitForScreen(page, "new-recovery-codes");

    const newCodes = await page.locator(".codes .code").allTextContents();
    expect(newCodes).toHaveLength(10);
    for (const code of newCodes) expect(recoveryCodes).not.toContain(code);
    const done = page.getByRole("button", { name: "Done" });
    expect(await done.isDisabled()).toBe(true);
    await page.getByLabel("I have stored my new recovery codes somewhere safe").check();
    await done.click();
    await waitForScreen(page, "security");
    await alertText(page, "Your new recovery codes are ready. The old ones no longer work.");
    await expect.poll(() => page.locator("[data-recovery-codes-remaining]").textContent()).toBe("10");

    await logOut(page);
    await expectCodeRefusedAtLogin(page, username, PASSWORD, { recovery: recoveryCodes[1]! });
    await page.getByLabel("Recovery code").fill(newCodes[0]!);
    await page.getByRole("button", { name: "Verify" }).click();
    await waitForScreen(page, "sessions");
  });

  it("deletes the account after the username is typed: login is refused and the username is free again", { timeout: 120_000 }, async () => {
    const { username, secret, recoveryCodes } = await newAccount("gone");
    const page = await openApp();
    await logIn(page, username, PASSWORD, { totpSecret: secret, steps: 1 });
    const secondTab = await page.context().newPage();
    await secondTab.goto(`${app.baseUrl}/`);
    await waitForScreen(secondTab, "sessions");

    await openSecurity(page);
    await page.getByRole("button", { name: "Delete account" }).click();
    await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[0]! });
    await waitForScreen(page, "delete-account");
    const remove = page.getByRole("button", { name: "Delete my account" });
    expect(await remove.isDisabled()).toBe(true);
    await page.getByLabel("Type your username to confirm").fill(`${username}x`);
    expect(await remove.isDisabled()).toBe(true);
    await page.getByLabel("Type your username to confirm").fill(username.toUpperCase());
    expect(await remove.isDisabled()).toBe(false);
    await remove.click();
    await waitForScreen(page, "login");
    await alertText(page, "Your account has been deleted.");
    await waitForScreen(secondTab, "login");
    expect((await page.context().cookies()).map((c) => c.name)).not.toContain("__Host-cypher_refresh");

    // The password no longer logs in: the answer is the one for any unknown name.
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("Wrong username or password.");

    // The name can be registered again, as a new account.
    const again = await register(page, username, NEW_PASSWORD);
    expect(again.secret).not.toBe(secret);
    await logIn(page, username, NEW_PASSWORD, { totpSecret: again.secret, steps: 1 });
  });

  it("leads from a lost authenticator to a new one: recovery code to log in, another to confirm, then the new authenticator", { timeout: 120_000 }, async () => {
    const { username, secret, recoveryCodes } = await newAccount("lost");
    const page = await openApp();
    await waitForScreen(page, "login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Continue" }).click();
    await waitForScreen(page, "second-factor");
    await page.getByRole("button", { name: "Lost your authenticator?" }).click();
    await page.getByLabel("Recovery code").fill(recoveryCodes[0]!);
    await page.getByRole("button", { name: "Verify" }).click();

    await waitForScreen(page, "step-up");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Set up a new authenticator");
    await alertText(page, "You logged in with a recovery code.");
    // The code just used does not work twice.
    await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[0]! });
    await alertText(page, "That code is not right. Try again, or use a recovery code.");
    await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[1]! });
    await waitForScreen(page, "replace-authenticator");
    await page.waitForSelector("img.qr");
    const newSecret = (await page.locator(".secret").getAttribute("data-secret")) ?? "";
    await page.getByLabel("6-digit code").fill(await totpCode(newSecret));
    await page.getByRole("button", { name: "Confirm new authenticator" }).click();
    await waitForScreen(page, "security");
    await alertText(page, "Your new authenticator is set up.");
    await expect.poll(() => page.locator("[data-recovery-codes-remaining]").textContent()).toBe("8");

    await logOut(page);
    await expectCodeRefusedAtLogin(page, username, PASSWORD, { totp: await totpCode(secret, 1) });
  });

  it("says how long to wait after too many wrong codes at the step-up, and holds the button until then", { timeout: 120_000 }, async () => {
    const { username, secret, recoveryCodes } = await newAccount("limited");
    const page = await openApp();
    await logIn(page, username, PASSWORD, { recoveryCode: recoveryCodes[0]! });
    await openSecurity(page);
    await page.getByRole("button", { name: "Make new recovery codes" }).click();
    const wrong = await wrongTotpCode(secret);
    const isReauthenticate = (res: { url(): string }) => res.url().endsWith("/cypher.account.v1.AccountService/Reauthenticate");
    for (let attempt = 1; attempt <= WRONG_CODES_ALLOWED; attempt++) {
      await Promise.all([page.waitForResponse(isReauthenticate), confirmIdentity(page, PASSWORD, { totpCode: wrong })]);
      await alertText(page, "That code is not right. Try again, or use a recovery code.");
    }
    // Even the right code waits now: the account's cap is counted before any code is tested.
    await confirmIdentity(page, PASSWORD, { totpSecret: secret, steps: 1 });
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/^Too many attempts\. Try again in \d+ (s|min)\.$/);
    const submit = page.locator("form button[type=submit]");
    expect(await submit.isDisabled()).toBe(true);
    expect(await submit.textContent()).toMatch(/^Try again in \d+ s$/);
    expect(await page.locator('#app[data-screen="step-up"]').count()).toBe(1);
  });
});
