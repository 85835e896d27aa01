/**
 * The browser app in real headless Chromium against a real Cypher (PGlite, generated keys, the
 * freshly built app), driven through the UI (only the multi-tab test makes its account from Node,
 * with the same client library, to keep its time on the tabs).
 *
 * Access tokens live 15 s on this server, so an automatic refresh happens within a test.
 */
import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCypherClients, createCypherTransport } from "../../web/src/client/clients.js";
import { confirmTotp, register as registerAccount, setupTotp } from "../../web/src/client/register.js";
import { CONTENT_SECURITY_POLICY } from "../../server/web/static-app.js";
import {
  logIn,
  readableStorage,
  totpCode,
  waitForScreen,
  wrongTotpCode,
} from "./support/app-driver.js";
import { CHROMIUM_MISSING_REASON, chromiumAvailable, launchChromium } from "./support/chromium.js";
import { startAppServer, type AppServer } from "./support/cypher-app-server.js";

const ACCESS_TTL_SECONDS = 15;
const PASSWORD = "correct horse battery staple";
const PHONE = { width: 375, height: 740 };

if (!chromiumAvailable) console.warn(`\n*** ${CHROMIUM_MISSING_REASON} ***\n`);
const describeInChromium = chromiumAvailable ? describe : describe.skip;

let counter = 0;
function uniqueUsername(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

const isRefresh = (req: Request) => req.url().endsWith("/cypher.session.v1.SessionService/RefreshSession");
const isListSessions = (req: Request) => req.url().endsWith("/cypher.session.v1.SessionService/ListSessions");
const isLoginInit = (res: { url(): string }) => res.url().endsWith("/cypher.auth.v1.AuthService/LoginInit");
const bearer = async (req: Request | undefined) => (await req?.allHeaders())?.authorization;

/** Page JavaScript must never be able to read a token: not in cookies, storage or IndexedDB. */
async function expectNoReadableToken(page: Page): Promise<void> {
  const storage = await readableStorage(page);
  expect(storage.cookie).toBe("");
  for (const text of [storage.local, storage.session]) {
    expect(text).not.toContain("v4.public.");
    expect(text).not.toContain("cypher_refresh");
  }
  expect(storage.local).toBe("{}");
  expect(storage.session).toBe("{}");
  expect(storage.indexedDbNames).toEqual([]);
}

/** At 375 px nothing may stick out sideways: not the page, and no box's content out of its box. */
async function expectFitsWidth(page: Page): Promise<void> {
  const problems = await page.evaluate(() => {
    const found: string[] = [];
    const viewport = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > viewport) found.push(`page scrolls sideways (${document.documentElement.scrollWidth} > ${viewport})`);
    for (const el of document.querySelectorAll<HTMLElement>("#app *")) {
      if (!(el instanceof HTMLElement) || el.clientWidth === 0 || el instanceof HTMLInputElement) continue;
      const box = el.getBoundingClientRect();
      const name = `${el.tagName.toLowerCase()}.${el.className}`;
      if (box.right > viewport + 0.5) found.push(`${name} ends at ${box.right}px`);
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible") found.push(`${name} overflows its box`);
    }
    return found;
  });
  expect(problems).toEqual([]);
}

describeInChromium(chromiumAvailable ? "web app in Chromium" : CHROMIUM_MISSING_REASON, () => {
  let app: AppServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function newContext(options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 800 }, acceptDownloads: true });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.baseUrl });
    contexts.push(context);
    return context;
  }

  async function openApp(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (err) => {
      throw new Error(`uncaught error in the page: ${err.message}`);
    });
    await page.goto(`${app.baseUrl}/`);
    return page;
  }

  beforeAll(async () => {
    [app, browser] = await Promise.all([startAppServer({ ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL_SECONDS) }), launchChromium()]);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.stop();
  });

  it("takes a person from registration to log out everywhere", { timeout: 120_000 }, async () => {
    const username = uniqueUsername("journey");
    const laptop = await newContext({ viewport: PHONE });
    const page = await openApp(laptop);
    await waitForScreen(page, "login");
    await expectFitsWidth(page);

    // Registration: a mismatched repeat is caught before anything is sent.
    await page.getByRole("button", { name: "Create an account" }).click();
    await waitForScreen(page, "register");
    await expectFitsWidth(page);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Repeat password").fill(`${PASSWORD}!`);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect.poll(() => page.getByText("The passwords do not match.").isVisible()).toBe(true);
    await page.getByRole("button", { name: "Log in" }).click();
    await waitForScreen(page, "login");

    // Enrollment: QR code image, secret as text, a wrong code refused, recovery codes shown once.
    await page.getByRole("button", { name: "Create an account" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Repeat password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await waitForScreen(page, "enroll");
    const qr = page.getByRole("img", { name: /QR code/ });
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    expect(await qr.getAttribute("src")).toMatch(/^blob:/);
    const secret = (await page.locator(".secret").getAttribute("data-secret")) ?? "";
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect((await page.locator(".secret").textContent())?.replace(/\s/g, "")).toBe(secret);
    expect(await page.locator("a.otpauth-link").getAttribute("href")).toMatch(new RegExp(`^otpauth://totp/.*[?&]secret=${secret}(&|$)`));
    await expectFitsWidth(page);

    await page.getByLabel("6-digit code").fill(await wrongTotpCode(secret));
    await page.getByRole("button", { name: "Confirm and activate" }).click();
    await expect.poll(() => page.getByText("That code is not right").isVisible()).toBe(true);
    expect(await page.getByLabel("6-digit code").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("6-digit code").fill(await totpCode(secret));
    await page.getByRole("button", { name: "Confirm and activate" }).click();
    await waitForScreen(page, "recovery-codes");
    await expectFitsWidth(page);
    const recoveryCodes = await page.locator(".codes .code").allTextContents();
    expect(recoveryCodes).toHaveLength(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}$/);

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download .txt" }).click()]);
    expect(download.suggestedFilename()).toBe(`cypher-recovery-codes-${username}.txt`);
    const downloaded = await readFile((await download.path()) ?? "", "utf8");
    for (const code of recoveryCodes) expect(downloaded).toContain(code);
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(recoveryCodes.join("\n"));

    const proceed = page.getByRole("button", { name: "Continue to log in" });
    expect(await proceed.isDisabled()).toBe(true);
    await page.getByLabel("I have stored my recovery codes somewhere safe").check();
    await proceed.click();
    await waitForScreen(page, "login");
    await expect.poll(() => page.getByText("Your account is ready").isVisible()).toBe(true);

    // One sentence for a wrong password and for an unknown username.
    await page.getByLabel("Password", { exact: true }).fill("not the password");
    await Promise.all([page.waitForResponse(isLoginInit), page.getByRole("button", { name: "Continue" }).click()]);
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("Wrong username or password.");
    await page.getByLabel("Username").fill(uniqueUsername("nobody"));
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await Promise.all([page.waitForResponse(isLoginInit), page.getByRole("button", { name: "Continue" }).click()]);
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("Wrong username or password.");

    // Log in with the keyboard only: username, Tab, password, Enter; then the code, Enter.
    await page.getByLabel("Username").fill("");
    await page.getByLabel("Username").focus();
    await page.keyboard.type(username.toUpperCase()); // the app normalizes like the server does
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await waitForScreen(page, "second-factor");
    await expectFitsWidth(page);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("autocomplete"))).toBe("one-time-code");
    await page.keyboard.type(await totpCode(secret, 1));
    await page.keyboard.press("Enter");
    await waitForScreen(page, "sessions");
    await page.waitForSelector(".device-slot .device");
    await expectFitsWidth(page);
    expect(await page.locator(".username").textContent()).toBe(username);
    expect(await page.locator(".device-slot .badge").textContent()).toBe("This device");
    await expectNoReadableToken(page);
    const cookies = await laptop.cookies();
    const shape = (c: (typeof cookies)[number]) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path });
    expect(cookies.map(shape).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: "__Host-cypher_device", httpOnly: true, secure: true, sameSite: "Strict", path: "/" },
      { name: "__Host-cypher_refresh", httpOnly: true, secure: true, sameSite: "Strict", path: "/" },
    ]);

    // A second device logs in with a recovery code; the first sees it and logs it out.
    const phone = await newContext();
    const phonePage = await openApp(phone);
    await logIn(phonePage, username, PASSWORD, { recoveryCode: recoveryCodes[0]! });
    await page.getByRole("button", { name: "Refresh the list of devices" }).click();
    await expect.poll(() => page.locator(".device-list .device").count()).toBe(1);
    await page.getByRole("button", { name: /^Log out Chrome/ }).click();
    await expect.poll(() => page.getByText("has been logged out").isVisible()).toBe(true);
    await expect.poll(() => page.locator(".device-list .device").count()).toBe(0);
    // The revoked device finds out on its next call and lands on the login screen.
    await phonePage.getByRole("button", { name: "Refresh the list of devices" }).click();
    await waitForScreen(phonePage, "login");
    await expect.poll(() => phonePage.getByText("Your session has ended").isVisible()).toBe(true);

    // A used recovery code does not work twice.
    await phonePage.getByLabel("Username").fill(username);
    await phonePage.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await phonePage.getByRole("button", { name: "Continue" }).click();
    await waitForScreen(phonePage, "second-factor");
    await phonePage.getByRole("button", { name: "Use a recovery code instead" }).click();
    await phonePage.getByLabel("Recovery code").fill(recoveryCodes[0]!);
    await phonePage.getByRole("button", { name: "Verify" }).click();
    await expect.poll(() => phonePage.getByText("That code is not right").isVisible()).toBe(true);
    await phonePage.getByLabel("Recovery code").fill(recoveryCodes[1]!);
    await phonePage.getByRole("button", { name: "Verify" }).click();
    await waitForScreen(phonePage, "sessions");

    // Log out everywhere: both devices end up logged out, and a reload does not bring them back.
    await page.getByRole("button", { name: "Refresh the list of devices" }).click();
    await expect.poll(() => page.locator(".device-list .device").count()).toBe(1);
    await page.getByRole("button", { name: "Log out everywhere" }).click();
    await page.getByRole("button", { name: "Yes, log out everywhere" }).click();
    await waitForScreen(page, "login");
    await expect.poll(() => page.getByText("You have logged out.").isVisible()).toBe(true);
    expect(await laptop.cookies()).toEqual([]);
    await page.reload();
    await waitForScreen(page, "login");
    await phonePage.reload();
    await waitForScreen(phonePage, "login");
    await expectNoReadableToken(page);
    await expectNoReadableToken(phonePage);
  });

  it("keeps a second tab logged in across an automatic refresh with one RefreshSession, and logs both out together", { timeout: 120_000 }, async () => {
    const username = uniqueUsername("tabs");
    // The account is made with the same client library, from Node, to keep this test on the tabs.
    const clients = createCypherClients(createCypherTransport({ baseUrl: app.baseUrl }));
    const enrollment = await registerAccount(clients, username, PASSWORD);
    const { secret } = await setupTotp(clients, enrollment);
    await confirmTotp(clients, enrollment, await totpCode(secret));

    const context = await newContext();
    const refreshes: Request[] = [];
    const listCalls: Request[] = [];
    context.on("request", (req) => {
      if (isRefresh(req)) refreshes.push(req);
      if (isListSessions(req)) listCalls.push(req);
    });

    const first = await openApp(context);
    await logIn(first, username, PASSWORD, { totpSecret: secret, steps: 1 });
    const loggedInAt = Date.now();
    const firstToken = await bearer(listCalls.at(-1));
    expect(firstToken).toMatch(/^Bearer v4\.public\./);

    // A new tab gets the token from the first tab, not from another refresh.
    const refreshesBeforeSecondTab = refreshes.length;
    const second = await openApp(context);
    await waitForScreen(second, "sessions");
    await second.waitForSelector(".device-slot .device");
    expect(refreshes.length).toBe(refreshesBeforeSecondTab);
    expect(await bearer(listCalls.at(-1))).toBe(firstToken);

    // The automatic refresh comes at 70–80 % of the token's life; give both tabs' timers time to fire.
    const countBefore = refreshes.length;
    await expect.poll(() => refreshes.length, { timeout: ACCESS_TTL_SECONDS * 1000, interval: 250 }).toBe(countBefore + 1);
    const refreshResponse = await refreshes.at(-1)!.response();
    expect(refreshResponse?.status()).toBe(200);
    // Wait until the first token has expired: the second tab must be using the new one by now.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, loggedInAt + ACCESS_TTL_SECONDS * 1000 + 500 - Date.now())));

    const callsBefore = listCalls.length;
    await second.getByRole("button", { name: "Refresh the list of devices" }).click();
    await first.getByRole("button", { name: "Refresh the list of devices" }).click();
    await expect.poll(() => listCalls.length).toBe(callsBefore + 2);
    const [secondCall, firstCall] = listCalls.slice(callsBefore);
    expect((await secondCall!.response())?.status()).toBe(200);
    expect((await firstCall!.response())?.status()).toBe(200);
    expect(await bearer(secondCall)).not.toBe(firstToken);
    expect(await bearer(secondCall)).toBe(await bearer(firstCall));
    expect(refreshes.length).toBe(countBefore + 1); // exactly one refresh for both tabs
    expect(await second.locator(".username").textContent()).toBe(username);
    await expectNoReadableToken(first);
    await expectNoReadableToken(second);

    // Logging out in one tab logs out the other, without a reload.
    await first.getByRole("button", { name: "Log out", exact: true }).click();
    await waitForScreen(first, "login");
    await waitForScreen(second, "login");
    await expect.poll(() => second.getByText("You logged out in another tab.").isVisible()).toBe(true);
    await second.reload();
    await waitForScreen(second, "login");
  });

  it("says how long to wait after too many password attempts, and holds the button until then", { timeout: 60_000 }, async () => {
    const page = await openApp(await newContext());
    await waitForScreen(page, "login");
    // Unknown usernames are limited exactly like real ones, so no account is needed.
    await page.getByLabel("Username").fill(uniqueUsername("guesser"));
    const submit = page.getByRole("button", { name: "Continue" });
    let message = "";
    for (let attempt = 1; attempt <= 15 && !message.startsWith("Too many attempts"); attempt++) {
      await page.getByLabel("Password", { exact: true }).fill(`guess number ${attempt}`);
      await Promise.all([page.waitForResponse(isLoginInit), submit.click()]);
      await page.getByRole("alert").waitFor();
      message = (await page.getByRole("alert").textContent()) ?? "";
    }
    expect(message).toMatch(/^Too many attempts\. Try again in \d+ (s|min)\.$/);
    const button = page.locator("form button[type=submit]");
    expect(await button.isDisabled()).toBe(true);
    expect(await button.textContent()).toMatch(/^Try again in \d+ s$/);
    await expect.poll(() => button.isDisabled(), { timeout: 20_000 }).toBe(false);
    expect(await button.textContent()).toBe("Continue");
  });

  it("offers Try again when the authenticator secret cannot be fetched, then shows it and the code is accepted", { timeout: 60_000 }, async () => {
    const username = uniqueUsername("retry-setup");
    const page = await openApp(await newContext());
    await waitForScreen(page, "login");
    let failures = 0;
    await page.route(`${app.baseUrl}/cypher.auth.v1.AuthService/SetupTotp`, async (route) => {
      failures += 1;
      await route.abort("connectionfailed");
    });
    await page.getByRole("button", { name: "Create an account" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Repeat password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await waitForScreen(page, "enroll");

    // The network failed: an error, a Try again button where the QR code goes, nothing to confirm yet.
    const retry = page.getByRole("button", { name: "Try again" });
    await retry.waitFor();
    expect(failures).toBe(1);
    expect(await page.getByRole("alert").textContent()).not.toBe("");
    expect(await page.locator(".totp-setup").getAttribute("aria-busy")).toBeNull();
    expect(await page.getByRole("button", { name: "Confirm and activate" }).isDisabled()).toBe(true);

    await page.unroute(`${app.baseUrl}/cypher.auth.v1.AuthService/SetupTotp`);
    await retry.click();
    await page.waitForSelector("img.qr");
    const secret = (await page.locator(".secret").getAttribute("data-secret")) ?? "";
    expect(await page.getByRole("button", { name: "Confirm and activate" }).isDisabled()).toBe(false);
    await page.getByLabel("6-digit code").fill(await totpCode(secret));
    await page.getByRole("button", { name: "Confirm and activate" }).click();
    await waitForScreen(page, "recovery-codes");
  });

  it("serves the app with a strict CSP that blocks injected inline script", async () => {
    const context = await newContext();
    const page = await context.newPage();
    // Installed by the browser itself (DevTools protocol), before any page script and outside the CSP.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective));
    });
    // Play an HTML injection: the real response, headers and all, with attacker markup added.
    await page.route(`${app.baseUrl}/`, async (route) => {
      const original = await route.fetch();
      const body = (await original.text()).replace(
        "<body>",
        '<body><script>window.pwnedByMarkup = true</script><img src="/missing.png" alt="" onerror="window.pwnedByHandler = true">',
      );
      const headers = Object.fromEntries(Object.entries(original.headers()).filter(([name]) => name !== "content-encoding" && name !== "content-length"));
      await route.fulfill({ status: original.status(), headers, body });
    });
    const response = await page.goto(`${app.baseUrl}/`);
    const headers = (await response?.allHeaders()) ?? {};
    expect(headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
    await waitForScreen(page, "login"); // the app's own script still runs

    // Script added from page JavaScript is refused too (Trusted Types: no string becomes script).
    const result = await page.evaluate(async () => {
      const w = window as unknown as Record<string, boolean | undefined>;
      const thrown: string[] = [];
      try {
        const script = document.createElement("script");
        script.appendChild(document.createTextNode("window.pwnedByElement = true"));
        document.body.appendChild(script);
      } catch (e) {
        thrown.push(String(e));
      }
      try {
        const button = document.createElement("button");
        button.setAttribute("onclick", "window.pwnedByAttribute = true");
        document.body.appendChild(button);
        button.click();
      } catch (e) {
        thrown.push(String(e));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      return {
        ran: ["pwnedByMarkup", "pwnedByHandler", "pwnedByElement", "pwnedByAttribute"].filter((name) => w[name] !== undefined),
        violations: (window as unknown as { cspViolations: string[] }).cspViolations,
      };
    });
    expect(result.ran).toEqual([]);
    // The injected markup: refused by script-src 'self' (an inline <script>, an inline handler).
    expect(result.violations).toContain("script-src-elem");
    expect(result.violations).toContain("script-src-attr");
    // The DOM injections: refused by Trusted Types before they could even reach script-src.
    expect(result.violations.filter((d) => d === "require-trusted-types-for").length).toBeGreaterThanOrEqual(2);

    // Nothing but the built files: no source, no dotfiles, no traversal.
    for (const path of ["/package.json", "/web/src/app/main.ts", "/.build-stamp.json", "/app.js/..%2F..%2Fpackage.json", "/login"]) {
      const res = await page.request.get(`${app.baseUrl}${path}`);
      expect(res.status(), path).toBe(404);
    }
  });
});
