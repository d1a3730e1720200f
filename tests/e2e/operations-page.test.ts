import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserAvailable, launchBrowser, screenshot, watchConsole } from "../helpers/browser";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";

// Operating from the page: filter to FAILED, retry, watch it complete, read its timeline, search.

const runBrowser = browserAvailable();
const db = await createTestDatabase();
let server: TestServer;
let browser: Browser;
const failedIds: string[] = [];

beforeAll(async () => {
  if (!runBrowser) return;
  // First a server whose every stage fails (failure injection, one attempt): two FAILED entries.
  const failing = await startServer(db.url, { FAILURE_RATE: "1", MAX_ATTEMPTS: "1", STAGE_DELAY_MS: "20" });
  try {
    for (const title of ["Payroll export", "Payroll import"]) {
      failedIds.push((await api(failing.url, "/api/entries", { method: "POST", json: { title } })).body.id);
    }
    await waitFor(async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status = 'FAILED'`);
      return rows[0].n === 2;
    }, 20_000);
  } finally {
    await failing.stop();
  }
  // Then a healthy one, as after a fix has been deployed.
  server = await startServer(db.url, { STAGE_DELAY_MS: "300" });
  await api(server.url, "/api/entries", { method: "POST", json: { title: "Quarterly audit" } });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe.skipIf(!runBrowser)("operating /entries in Chromium", () => {
  it("filters to FAILED, retries one, sees it complete, and reads its stage timeline", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watchConsole(page);
    await page.goto(`${server.url}/entries`);
    await page.locator("[data-live=true]").waitFor();

    await page.getByRole("navigation", { name: "Filter by status" }).getByRole("link", { name: /Failed/ }).click();
    await page.waitForURL(/status=FAILED/);
    await waitFor(async () => (await page.locator("tr[data-entry-id]").count()) === 2, 10_000);
    expect(await page.locator('tr[data-status="FAILED"]').count()).toBe(2);
    expect(await page.getByRole("navigation", { name: "Filter by status" }).getByRole("link", { name: /Failed/ }).innerText()).toContain("2");

    await page.getByRole("button", { name: "Retry Payroll export" }).click();
    await page.getByRole("alertdialog", { name: "Retry this entry?" }).getByRole("button", { name: "Retry entry" }).click();
    // It leaves the FAILED view as soon as it is queued again…
    await page.locator("tr[data-entry-id]", { hasText: "Payroll export" }).waitFor({ state: "detached", timeout: 10_000 });
    // …and under All it runs to COMPLETED, live.
    await page.getByRole("navigation", { name: "Filter by status" }).getByRole("link", { name: /^All/ }).click();
    await page.locator('tr[data-status="COMPLETED"]', { hasText: "Payroll export" }).waitFor({ timeout: 15_000 });

    await page.getByRole("button", { name: "Payroll export" }).click();
    const sheet = page.getByRole("dialog", { name: "Payroll export" });
    await sheet.waitFor();
    const timeline = sheet.getByRole("list", { name: "Stage executions" });
    await timeline.locator('li[data-outcome="SUCCEEDED"]').nth(2).waitFor();
    expect(await timeline.locator('li[data-outcome="SUCCEEDED"]').count()).toBe(3);
    expect(await timeline.locator('li[data-outcome="FAILED"]').count()).toBe(1); // the injected failure
    expect(await timeline.innerText()).toContain("Injected failure");
    await screenshot(page, "entry-detail-sheet");
    await page.keyboard.press("Escape");

    expect(problems).toEqual([]);
  });

  it("searches titles, with the search in the URL so the view can be shared", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watchConsole(page);
    await page.goto(`${server.url}/entries`);
    await page.getByRole("searchbox", { name: "Search titles" }).fill("payroll");
    await page.waitForURL(/q=payroll/);
    await waitFor(async () => (await page.locator("tr[data-entry-id]").count()) === 2, 10_000);

    const shared = await browser.newPage();
    await shared.goto(page.url());
    await waitFor(async () => (await shared.locator("tr[data-entry-id]").count()) === 2, 10_000);
    expect(await shared.getByRole("searchbox", { name: "Search titles" }).inputValue()).toBe("payroll");
    await screenshot(page, "entries-search");
    expect(problems).toEqual([]);
  });
});
