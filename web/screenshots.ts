/**
 * Screenshots of every screen of the web app, for docs/screenshots/. Starts a throwaway Cypher with
 * the freshly built app, walks through registration, login and the Security page in headless
 * Chromium, and saves a desktop and a phone-width (375 px) PNG of each screen.
 *
 *   npx tsx web/screenshots.ts      (or: npm run screenshots)
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { confirmIdentity, logIn, openSecurity, totpCode, waitForScreen } from "../tests/e2e/support/app-driver.js";
import { CHROMIUM_MISSING_REASON, chromiumAvailable, launchChromium } from "../tests/e2e/support/chromium.js";
import { startAppServer, type AppServer } from "../tests/e2e/support/cypher-app-server.js";

const OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "docs", "screenshots");
const PASSWORD = "correct horse battery staple";

const DESKTOP: BrowserContextOptions = { viewport: { width: 1200, height: 860 }, deviceScaleFactor: 1 };
const PHONE: BrowserContextOptions = {
  viewport: { width: 375, height: 812 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  userAgent: "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
};
const IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";
const WINDOWS_FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";

async function shoot(page: Page, prefix: string, name: string): Promise<void> {
  // Let fonts, the QR image and transitions settle; no caret blinking in the picture.
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(250);
  const file = path.join(OUT_DIR, `${prefix}${name}.png`);
  await page.screenshot({ path: file, fullPage: true, caret: "hide", animations: "disabled" });
  console.log(`  ${path.relative(process.cwd(), file)}`);
}

async function walkThrough(browser: Browser, app: AppServer, options: { prefix: string; context: BrowserContextOptions; username: string }): Promise<void> {
  const { prefix, username } = options;
  const context = await browser.newContext(options.context);
  const page = await context.newPage();
  await page.goto(`${app.baseUrl}/`);
  await waitForScreen(page, "login");

  await page.getByRole("button", { name: "Create an account" }).click();
  await waitForScreen(page, "register");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Repeat password").fill(PASSWORD);
  await shoot(page, prefix, "1-register");

  await page.getByRole("button", { name: "Create account" }).click();
  await waitForScreen(page, "enroll");
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>("img.qr");
    return img !== null && img.complete && img.naturalWidth > 0;
  });
  const secret = (await page.locator(".secret").getAttribute("data-secret")) ?? "";
  await page.getByLabel("6-digit code").fill(await totpCode(secret));
  await shoot(page, prefix, "2-authenticator");

  await page.getByRole("button", { name: "Confirm and activate" }).click();
  await waitForScreen(page, "recovery-codes");
  const recoveryCodes = await page.locator(".codes .code").allTextContents();
  await page.getByLabel("I have stored my recovery codes somewhere safe").check();
  await shoot(page, prefix, "3-recovery-codes");

  await page.getByRole("button", { name: "Continue to log in" }).click();
  await waitForScreen(page, "login");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await shoot(page, prefix, "4-login");

  await page.getByLabel("Password", { exact: true }).fill("not my password");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("alert").waitFor();
  await shoot(page, prefix, "4b-login-error");

  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Continue" }).click();
  await waitForScreen(page, "second-factor");
  await page.getByLabel("Authentication code").fill(await totpCode(secret, 1));
  await shoot(page, prefix, "5-second-factor");

  // Two more devices, so the sessions page has something to show.
  for (const [userAgent, code] of [[IPHONE_UA, recoveryCodes[0]], [WINDOWS_FIREFOX_UA, recoveryCodes[1]]] as const) {
    const other = await browser.newContext({ ...DESKTOP, userAgent });
    const otherPage = await other.newPage();
    await otherPage.goto(`${app.baseUrl}/`);
    await logIn(otherPage, username, PASSWORD, { recoveryCode: code ?? "" });
    await other.close(); // closing the browser does not log out: the session stays listed
  }

  await page.getByRole("button", { name: "Verify" }).click();
  await waitForScreen(page, "sessions");
  await page.locator(".device-list .device").first().waitFor();
  await shoot(page, prefix, "6-sessions");

  // The Security page and its changes (each left before it commits, except the new codes).
  await openSecurity(page);
  await shoot(page, prefix, "7-security");

  await page.getByRole("button", { name: "Change password" }).click();
  await confirmIdentity(page, "not my password", { recoveryCode: recoveryCodes[2] ?? "" });
  await page.getByText("That password is not right.").waitFor();
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await shoot(page, prefix, "8-confirm-identity");
  await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[2] ?? "" });
  await waitForScreen(page, "change-password");
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("Repeat new password").fill("a brand new passphrase");
  await shoot(page, prefix, "9-change-password");
  await page.getByRole("button", { name: "Cancel" }).click();

  await waitForScreen(page, "security");
  await page.getByRole("button", { name: "Replace authenticator" }).click();
  await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[3] ?? "" });
  await waitForScreen(page, "replace-authenticator");
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>("img.qr");
    return img !== null && img.complete && img.naturalWidth > 0;
  });
  const newSecret = (await page.locator(".secret").getAttribute("data-secret")) ?? "";
  await page.getByLabel("6-digit code").fill(await totpCode(newSecret));
  await shoot(page, prefix, "10-replace-authenticator");
  await page.getByRole("button", { name: "Cancel" }).click();

  await waitForScreen(page, "security");
  await page.getByRole("button", { name: "Make new recovery codes" }).click();
  await confirmIdentity(page, PASSWORD, { recoveryCode: recoveryCodes[4] ?? "" });
  await waitForScreen(page, "new-recovery-codes");
  const newCodes = await page.locator(".codes .code").allTextContents();
  await page.getByLabel("I have stored my new recovery codes somewhere safe").check();
  await shoot(page, prefix, "11-new-recovery-codes");
  await page.getByRole("button", { name: "Done" }).click();

  await waitForScreen(page, "security");
  await page.getByRole("button", { name: "Delete account" }).click();
  await confirmIdentity(page, PASSWORD, { recoveryCode: newCodes[0] ?? "" });
  await waitForScreen(page, "delete-account");
  await page.getByLabel("Type your username to confirm").fill(username);
  await shoot(page, prefix, "12-delete-account");
  await context.close();

  // The lost-authenticator path: a recovery code to log in, then straight to a new authenticator.
  const lost = await browser.newContext(options.context);
  const lostPage = await lost.newPage();
  await lostPage.goto(`${app.baseUrl}/`);
  await waitForScreen(lostPage, "login");
  await lostPage.getByLabel("Username").fill(username);
  await lostPage.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await lostPage.getByRole("button", { name: "Continue" }).click();
  await waitForScreen(lostPage, "second-factor");
  await lostPage.getByRole("button", { name: "Lost your authenticator?" }).click();
  await lostPage.getByLabel("Recovery code").fill(newCodes[1] ?? "");
  await shoot(lostPage, prefix, "13-lost-authenticator");
  await lostPage.getByRole("button", { name: "Verify" }).click();
  await waitForScreen(lostPage, "step-up");
  await lostPage.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await lostPage.getByLabel("Recovery code").fill(newCodes[2] ?? "");
  await shoot(lostPage, prefix, "14-lost-authenticator-confirm");
  await lost.close();
}

async function main(): Promise<void> {
  if (!chromiumAvailable) {
    console.error(CHROMIUM_MISSING_REASON);
    process.exit(1);
  }
  mkdirSync(OUT_DIR, { recursive: true });
  const [app, browser] = await Promise.all([startAppServer(), launchChromium()]);
  try {
    console.log(`screenshots of ${app.baseUrl} into ${path.relative(process.cwd(), OUT_DIR)}:`);
    await walkThrough(browser, app, { prefix: "desktop-", context: DESKTOP, username: "alice" });
    await walkThrough(browser, app, { prefix: "phone-", context: PHONE, username: "bob" });
  } finally {
    await browser.close();
    await app.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
