import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

// Browser tests drive Debian's Chromium through playwright-core (no browser download).

export const CHROMIUM_PATH = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, "../../test-results/screenshots");

const INSTALL_HINT = "Install it with: apt-get install -y chromium";

/** Whether to run the browser tests: with CI=true a missing Chromium is a failure, not a skip. */
export function browserAvailable(): boolean {
  if (CHROMIUM_PATH) return true;
  if (process.env.CI === "true") throw new Error(`Chromium not found at /usr/bin/chromium. ${INSTALL_HINT}`);
  console.warn(`\n${"!".repeat(70)}\n!! Browser tests SKIPPED: Chromium not found. ${INSTALL_HINT}\n${"!".repeat(70)}\n`);
  return false;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** Collects console errors and uncaught page errors, so a test can assert there were none. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
