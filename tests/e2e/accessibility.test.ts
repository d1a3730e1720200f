import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { accessibilityProblems, browserSuite, watchConsole } from "../helpers/browser";
import { api, waitFor } from "../helpers/server";

// /entries for people who use a screen reader or only a keyboard: axe-core finds no serious or
// critical problem in any of its states, and everything works from the keyboard alone.

// Stages that never end while the tests look: entries stay running and locked (Cancel buttons, lock panel).
const suite = await browserSuite({ STAGE_DELAY_MS: "600000", RATE_LIMIT_CREATES_PER_MINUTE: "0" }, async ({ db, server }) => {
  await db.pool.query(`
    INSERT INTO "Entry" (title, status, progress, result, error, "createdAt") VALUES
      ('Quarterly report', 'COMPLETED', 100, '{"completedAt": "2026-11-29T08:00:00.000Z", "message": "All stages completed"}', NULL, now() - interval '3 hours'),
      ('Payroll export', 'FAILED', 33, NULL, 'Injected failure in STAGE_2', now() - interval '2 hours'),
      ('Invoice batch', 'STAGE_2', 66, NULL, NULL, now() - interval '1 hour')`);
  await api(server.url, "/api/entries", { method: "POST", json: { title: "Running now" } });
  await waitFor(async () => (await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE "lockedBy" IS NOT NULL`)).rows[0].n > 0);
});

async function openList(width: number): Promise<Page> {
  const page = await suite.browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(`${suite.server.url}/entries`);
  await page.locator("tr[data-entry-id]", { hasText: "Running now" }).waitFor();
  await page.locator("[data-live=true]").waitFor();
  return page;
}

/** Waits for focus to land on `name` (Radix returns focus a tick after a dialog unmounts). */
async function focusLandsOn(page: Page, name: string) {
  await waitFor(async () => (await focused(page)) === name, 5000, 20).catch(async () => {
    throw new Error(`focus is on ${JSON.stringify(await focused(page))}, not ${JSON.stringify(name)}`);
  });
}

/** With focus on `opener`: Enter opens `dialog`, Escape closes it, and focus comes back to `opener`. */
async function opensAndEscapes(page: Page, dialog: Locator, opener: string) {
  await focusLandsOn(page, opener);
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await focusLandsOn(page, opener);
}

/** The focused element's text (its label, for an icon button); "<body>" when nothing has focus. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return "<body>";
    return el.getAttribute("aria-label") ?? el.textContent?.trim() ?? el.tagName;
  });

describe.skipIf(!suite.run)("accessibility of /entries (axe-core)", () => {
  it.each([
    ["the list with data", 1280],
    ["the list on a phone", 390],
  ])("%s", async (label, width) => {
    const page = await openList(width);
    expect(await accessibilityProblems(page, label)).toEqual([]);
  });

  it("the create dialog, open", async () => {
    const page = await openList(1280);
    await page.getByRole("button", { name: "Create Entry" }).click();
    await page.getByRole("dialog", { name: "Create entry" }).waitFor();
    expect(await accessibilityProblems(page, "create dialog")).toEqual([]);
    // And with a field error showing.
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByText("Title is required").waitFor();
    expect(await accessibilityProblems(page, "create dialog, field error")).toEqual([]);
  });

  it("the detail sheet, open on a running entry", async () => {
    const page = await openList(1280);
    await page.getByRole("button", { name: "Running now", exact: true }).click();
    const sheet = page.getByRole("dialog", { name: "Running now" });
    await sheet.waitFor();
    await sheet.getByTestId("lock-panel").waitFor();
    expect(await accessibilityProblems(page, "detail sheet")).toEqual([]);
  });
});

describe.skipIf(!suite.run)("/entries from the keyboard alone", () => {
  it("creates an entry, opens and closes every dialog and sheet, focus always somewhere sensible", async () => {
    const page = await openList(1280);
    const problems = watchConsole(page);
    // Tab to "Create Entry".
    for (let i = 0; i < 20 && (await focused(page)) !== "Create Entry"; i++) await page.keyboard.press("Tab");
    await focusLandsOn(page, "Create Entry");

    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Create entry" });
    await dialog.waitFor();
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe("title");
    await page.keyboard.type("Typed at the keyboard");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "detached" });
    await page.locator("tr[data-entry-id]", { hasText: "Typed at the keyboard" }).waitFor();
    await focusLandsOn(page, "Create Entry"); // back where it started

    // Escape closes the dialog, and focus returns to its button.
    await opensAndEscapes(page, page.getByRole("dialog", { name: "Create entry" }), "Create Entry");

    // The entry's detail sheet: Tab to its title, open, Escape.
    for (let i = 0; i < 40 && (await focused(page)) !== "Typed at the keyboard"; i++) await page.keyboard.press("Tab");
    await opensAndEscapes(page, page.getByRole("dialog", { name: "Typed at the keyboard" }), "Typed at the keyboard");

    // Its Cancel confirmation: Tab to the row's Cancel button, open, Escape.
    await page.keyboard.press("Tab");
    await opensAndEscapes(page, page.getByRole("alertdialog", { name: "Cancel this entry?" }), "Cancel Typed at the keyboard");
    expect(problems).toEqual([]);
  });
});
