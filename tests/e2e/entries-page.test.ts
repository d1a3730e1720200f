import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { browserSuite, screenshot, watchConsole } from "../helpers/browser";
import { startServer } from "../helpers/server";

// /entries in real Chromium, on a production build with a real database and the real worker.

// Stages twice as long as the 2 s poll, so the page shows each one even when it polls.
const STAGE_ENV = { STAGE_DELAY_MS: "4000" };
const suite = await browserSuite(STAGE_ENV);
const { db } = suite;

async function openPage(width = 1280): Promise<{ page: Page; problems: string[] }> {
  const page = await suite.browser.newPage({ viewport: { width, height: 900 } });
  const problems = watchConsole(page);
  await page.goto(`${suite.server.url}/entries`);
  return { page, problems };
}

describe.skipIf(!suite.run)("/entries in Chromium", () => {
  it("creates an entry through the dialog and shows it advance to COMPLETED, live", async () => {
    const { page, problems } = await openPage();
    await page.getByText("No entries yet").waitFor();

    await page.getByRole("button", { name: "Create Entry" }).click();
    const dialog = page.getByRole("dialog", { name: "Create entry" });
    await dialog.getByLabel("Title").fill("Quarterly report");
    await dialog.getByLabel("Title").press("Enter");
    await dialog.waitFor({ state: "detached" });

    const row = page.locator("tr[data-entry-id]", { hasText: "Quarterly report" });
    await row.waitFor({ timeout: 5_000 });
    // Record every state the row shows, in order, as the page renders it: status and progress bar.
    await row.evaluate((el) => {
      const state = () => `${el.getAttribute("data-status")}:${el.querySelector("[role=progressbar]")?.getAttribute("aria-valuenow")}`;
      const shown = [state()];
      (window as unknown as { shown: string[] }).shown = shown;
      new MutationObserver(() => state() !== shown.at(-1) && shown.push(state())).observe(el, { attributes: true, subtree: true });
    });
    await page.locator('tr[data-status="COMPLETED"]', { hasText: "Quarterly report" }).waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { shown: string[] }).shown)).toEqual([
      "CREATED:0",
      "STAGE_1:33",
      "STAGE_2:66",
      "COMPLETED:100",
    ]);
    expect(await row.locator("[data-status]").innerText()).toContain("Completed");
    expect(await row.innerText()).toContain("Done");
    expect(await page.locator("tr[data-entry-id]").count()).toBe(1);

    await screenshot(page, "entries-completed");
    expect(problems).toEqual([]);
  });

  it("shows the field error for an invalid title and creates nothing", async () => {
    const { page, problems } = await openPage(390); // a phone-sized screen
    await page.getByRole("button", { name: "Create Entry" }).click();
    const dialog = page.getByRole("dialog", { name: "Create entry" });
    await dialog.getByLabel("Title").fill("    ");
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.getByText("Title is required").waitFor();
    expect(await dialog.getByLabel("Title").getAttribute("aria-invalid")).toBe("true");

    await dialog.getByLabel("Title").fill("x".repeat(201));
    await dialog.getByText("Title must be at most 200 characters").waitFor();
    await screenshot(page, "entries-dialog-invalid-phone");

    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry"`);
    expect(rows[0].n).toBe(1); // only the first test's entry
    expect(problems).toEqual([]);
  });

  it("keeps the last data on screen with a notice when the server goes away, and recovers", async () => {
    const { page, problems } = await openPage();
    await page.locator("tr[data-entry-id]").first().waitFor();
    await page.locator("[data-live=true]").waitFor(); // the SSE stream is connected
    await suite.server.stop();
    await page.getByText("Connection lost, retrying").waitFor({ timeout: 15_000 });
    await page.locator("[data-live=false]").waitFor(); // fell back to polling
    expect(await page.locator("tr[data-entry-id]").count()).toBe(1);

    suite.server = await startServer(db.url, STAGE_ENV, suite.server.port);
    await page.getByText("Connection lost, retrying").waitFor({ state: "detached", timeout: 15_000 });
    await page.locator("[data-live=true]").waitFor({ timeout: 15_000 }); // and the stream resumed
    // Only the expected network errors of the outage were logged.
    expect(problems.filter((p) => !/Failed to load resource|ERR_CONNECTION_REFUSED|EventSource|503/.test(p))).toEqual([]);
  });
});
