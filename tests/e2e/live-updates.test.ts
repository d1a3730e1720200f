import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserAvailable, launchBrowser, watchConsole } from "../helpers/browser";
import { createTestDatabase } from "../helpers/db";
import { pgbouncerAvailable, startPgBouncer, type PgBouncer } from "../helpers/pgbouncer";
import { startServer, type TestServer } from "../helpers/server";

// The page's live updates in the topologies people deploy: behind a transaction-mode pooler with
// no DIRECT_URL (the server's LISTEN is deaf and it polls instead), and with a stream that goes
// silent (the page must stop trusting it and poll).

const runBrowser = browserAvailable();
const runPooler = runBrowser && pgbouncerAvailable();
const db = await createTestDatabase();
let browser: Browser;
beforeAll(async () => {
  if (runBrowser) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function createThroughDialog(page: Page, title: string) {
  await page.getByRole("button", { name: "Create Entry" }).click();
  const dialog = page.getByRole("dialog", { name: "Create entry" });
  await dialog.getByLabel("Title").fill(title);
  await dialog.getByLabel("Title").press("Enter");
  await dialog.waitFor({ state: "detached" });
}

describe.skipIf(!runPooler)("/entries behind PgBouncer without DIRECT_URL", () => {
  let bouncer: PgBouncer;
  let server: TestServer;
  beforeAll(async () => {
    bouncer = await startPgBouncer(db.url);
    server = await startServer(bouncer.url, { STAGE_DELAY_MS: "1500" });
  });
  afterAll(async () => {
    await server?.stop();
    await bouncer?.stop();
  });

  it("shows a new entry advance to Completed, live", async () => {
    const page = await browser.newPage();
    const problems = watchConsole(page);
    await page.goto(`${server.url}/entries`);
    await page.locator("[data-live=true]").waitFor();
    // Record it if the page ever stops trusting the stream (then it would be polling, not live).
    await page.evaluate(() => {
      const indicator = document.querySelector("[data-live]")!;
      new MutationObserver(() => {
        if (indicator.getAttribute("data-live") !== "true") document.body.dataset.leftLive = "yes";
      }).observe(indicator, { attributes: true });
    });
    await createThroughDialog(page, "Pooled and live");
    await page.locator('tr[data-status="COMPLETED"]', { hasText: "Pooled and live" }).waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => document.body.dataset.leftLive ?? "no")).toBe("no");
    expect(server.output()).toContain("LISTEN receives nothing");
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!runBrowser)("/entries with a stream that goes silent", () => {
  it("stops trusting it and polls every 2 s, then trusts it again once it speaks", async () => {
    const server = await startServer(db.url, { STAGE_DELAY_MS: "100" });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/entries`);
      await page.locator("[data-live=true]").waitFor();
      // Frozen: the connection stays open and nothing comes through it, not even a ping.
      server.kill("SIGSTOP");
      try {
        await page.locator("[data-live=false]").waitFor({ timeout: 15_000 });
        expect(await page.locator("[data-live]").innerText()).toContain("Refreshing every 2 s");
      } finally {
        server.kill("SIGCONT");
      }
      await page.locator("[data-live=true]").waitFor({ timeout: 15_000 });
      await createThroughDialog(page, "After the silence");
      await page.locator('tr[data-status="COMPLETED"]', { hasText: "After the silence" }).waitFor({ timeout: 15_000 });
    } finally {
      await server.stop();
    }
  });
});
