import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { createTestDatabase } from "./db";
import { startServer, type TestServer } from "./server";

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

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeFinding {
  rule: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * axe-core (WCAG 2.1 A and AA, plus its best-practice rules) on the page as it is now. Returns the
 * serious and critical findings; prints the minor and moderate ones so they stay visible.
 */
export async function accessibilityProblems(page: Page, label: string): Promise<AxeFinding[]> {
  await page.evaluate(AXE_SOURCE);
  const violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: never[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
    return result.violations;
  });
  const findings = violations.map((v) => ({ rule: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  const minor = findings.filter((f) => f.impact === "minor" || f.impact === "moderate");
  if (minor.length) console.log(`[axe: ${label}] minor and moderate findings:\n${minor.map((f) => `  ${f.impact} ${f.rule}: ${f.help} (${f.targets.join(", ")})`).join("\n")}`);
  return findings.filter((f) => f.impact === "serious" || f.impact === "critical");
}

export interface BrowserSuite {
  /** False when Chromium is missing outside CI: the file's describe blocks skip. */
  run: boolean;
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  /** The production server under test (a test may replace it, e.g. after stopping it). */
  server: TestServer;
  browser: Browser;
}

/**
 * A browser test file's fixtures: its own database, a production server on it with `env`, and a
 * Chromium; `prepare` runs once the server is up. Both are stopped when the file's tests end.
 */
export async function browserSuite(env: Record<string, string>, prepare?: (suite: BrowserSuite) => Promise<void>): Promise<BrowserSuite> {
  const suite = { run: browserAvailable(), db: await createTestDatabase() } as BrowserSuite;
  beforeAll(async () => {
    if (!suite.run) return;
    suite.server = await startServer(suite.db.url, env);
    await prepare?.(suite);
    suite.browser = await launchBrowser();
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.server?.stop();
  });
  return suite;
}
