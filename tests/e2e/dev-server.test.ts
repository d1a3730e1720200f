import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedDatabaseUrl } from "@/lib/server/config";
import { startEmbeddedPostgres, stopEmbeddedPostgres } from "@/scripts/embedded-postgres";
import { browserAvailable, launchBrowser, watchConsole } from "../helpers/browser";
import { freePort } from "../helpers/ports";
import { api, waitFor } from "../helpers/server";

// `npm run dev` as a newcomer runs it: the embedded PostgreSQL, `next dev`, the page opened at
// either loopback address, and Ctrl-C in the terminal (SIGINT to the whole process group).

const ROOT = path.resolve(import.meta.dirname, "../..");
const runBrowser = browserAvailable();
const dataDir = mkdtempSync(path.join(tmpdir(), "aw-dev-pg-"));
let pgPort: number;
let httpPort: number;
let browser: Browser;

interface DevRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm run dev` (what it runs: scripts/run.ts dev), in a process group of its own like a terminal's. */
function startDev(): DevRun {
  // Not vitest's NODE_ENV=test: `next dev` sets its own.
  const { NODE_ENV: _, ...env } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/run.ts", "dev"], {
    cwd: ROOT,
    detached: true,
    env: {
      ...env,
      DATABASE_URL: "",
      EMBEDDED_PG_DIR: dataDir,
      EMBEDDED_PG_PORT: String(pgPort),
      PORT: String(httpPort),
      STAGE_DELAY_MS: "1500",
      LOG_LEVEL: "info",
    } as Partial<NodeJS.ProcessEnv> as NodeJS.ProcessEnv, // Next's types insist on NODE_ENV
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const pressCtrlC = (run: DevRun) => process.kill(-run.child.pid!, "SIGINT");
let dev: DevRun | undefined;

beforeAll(async () => {
  if (!runBrowser) return;
  [pgPort, httpPort] = [await freePort(), await freePort()];
  dev = startDev();
  const ready = dev;
  // `next dev` compiles each route on its first request: give the first ones time.
  await waitFor(async () => (await api(`http://127.0.0.1:${httpPort}`, "/api/entries?limit=1").catch(() => null))?.status === 200, 120_000, 500).catch(
    (error) => {
      throw new Error(`${error}\n${ready.output()}`);
    },
  );
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  if (dev && dev.child.exitCode === null) {
    process.kill(-dev.child.pid!, "SIGKILL");
    await dev.exited;
  }
  await stopEmbeddedPostgres(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!runBrowser)("npm run dev", () => {
  it.each(["localhost", "127.0.0.1"])("serves a live, working page at http://%s", { timeout: 120_000 }, async (host) => {
    const page = await browser.newPage();
    const problems = watchConsole(page);
    await page.goto(`http://${host}:${httpPort}/entries`);
    await page.getByRole("button", { name: "Create Entry" }).click();
    const dialog = page.getByRole("dialog", { name: "Create entry" });
    await dialog.waitFor({ timeout: 60_000 }); // the page is interactive: its scripts and dev resources loaded
    await dialog.getByLabel("Title").fill(`Made at ${host}`);
    await dialog.getByLabel("Title").press("Enter");
    await dialog.waitFor({ state: "detached" });
    await page.locator('tr[data-status="COMPLETED"]', { hasText: `Made at ${host}` }).waitFor({ timeout: 30_000 });
    expect(dev!.output()).not.toContain("Blocked cross-origin request");
    // Development-only chatter (HMR, React DevTools) is not a problem; errors are.
    expect(problems.filter((p) => !/Download the React DevTools/.test(p))).toEqual([]);
    await page.close();
  });

  it("on Ctrl-C hands back every lock before the database stops; the next start resumes at once", { timeout: 180_000 }, async () => {
    const first = dev!;
    const url = `http://127.0.0.1:${httpPort}`;
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async (i) => (await api(url, "/api/entries", { method: "POST", json: { title: `ctrl-c ${i}` } })).body.id));
    const db = new pg.Pool({ connectionString: embeddedDatabaseUrl(pgPort) });
    try {
      const lockedNow = async () => (await db.query(`SELECT count(*)::int AS n FROM "Entry" WHERE id = ANY($1::uuid[]) AND "lockedBy" IS NOT NULL`, [ids])).rows[0].n;
      await waitFor(async () => (await lockedNow()) === 5, 20_000, 20);
    } finally {
      await db.end();
    }
    pressCtrlC(first);
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("worker stopped");

    // Before anything starts again, the database as the stop left it: nothing held.
    const server = await startEmbeddedPostgres({ dataDir, port: pgPort });
    const check = new pg.Client({ connectionString: embeddedDatabaseUrl(pgPort) });
    await check.connect();
    const { rows } = await check.query(`SELECT count(*)::int AS n FROM "Entry" WHERE "lockedBy" IS NOT NULL`);
    await check.end();
    await server.stop();
    expect(rows[0].n).toBe(0);

    dev = startDev();
    const second = dev;
    await waitFor(async () => {
      const done = await Promise.all(ids.map((id) => api(url, `/api/entries/${id}`).then((r) => r.body?.status).catch(() => null)));
      return done.every((s) => s === "COMPLETED");
    }, 120_000, 500);
    expect(second.output()).not.toContain("reclaimed locks");
    pressCtrlC(second);
    expect(await second.exited).toBe(0);
  });
});
