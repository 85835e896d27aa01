/**
 * Debian's Chromium driven by playwright-core. `npx playwright install` cannot download browsers
 * on these machines, so the suite uses /usr/bin/chromium (or CHROMIUM_PATH) and says plainly when
 * it is not there.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
export const CHROMIUM_MISSING_REASON = `end-to-end tests SKIPPED: no Chromium at ${CHROMIUM_PATH} (install it with \`apt-get install -y chromium\` or set CHROMIUM_PATH)`;

/**
 * Headless, no sandbox (the tests run as root in a container), and no background traffic: the
 * machine's closed network refuses Chromium's update and sync connections, many at a time. playwright-core gives every launch a fresh temporary profile (--user-data-dir) itself.
 */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS });
}
