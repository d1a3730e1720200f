import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports";
import { api, stopProcess, stopTracked, tracked, waitFor } from "../helpers/server";

// `npm start` / `npm run dev` go through scripts/run.ts: with DATABASE_URL unset it must start the
// embedded PostgreSQL, migrate, serve, and stop the database again when the server stops.

const ROOT = path.resolve(import.meta.dirname, "../..");
const dataDir = mkdtempSync(path.join(tmpdir(), "aw-run-script-"));
// Leftover processes first (a failing test skips its own stop): they still use the data folder,
// and file-level afterAll hooks run last-registered first, before the helper's.
afterAll(async () => {
  await stopTracked();
  rmSync(dataDir, { recursive: true, force: true });
});

function runScript(command: string, env: Record<string, string>) {
  const child = tracked(
    spawn(process.execPath, ["--import", "tsx", "scripts/run.ts", command], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

describe("scripts/run.ts", () => {
  it("with DATABASE_URL unset, starts embedded PostgreSQL, migrates and serves; stops it all on SIGTERM", async () => {
    const [pgPort, httpPort] = [await freePort(), await freePort()];
    const run = runScript("start", {
      EMBEDDED_PG_DIR: dataDir,
      EMBEDDED_PG_PORT: String(pgPort),
      PORT: String(httpPort),
      STAGE_DELAY_MS: "50",
    });
    try {
      const created = await waitFor(async () => {
        const res = await api(`http://127.0.0.1:${httpPort}`, "/api/entries", { method: "POST", json: { title: "zero config" } }).catch(() => null);
        return res?.status === 201 ? res.body : null;
      }, 60_000, 200);
      const done = await waitFor(async () => {
        const { body } = await api(`http://127.0.0.1:${httpPort}`, `/api/entries/${created.id}`);
        return body.status === "COMPLETED" ? body : null;
      }, 20_000);
      expect(done.progress).toBe(100);
      expect(run.output()).toContain(`Embedded PostgreSQL started on 127.0.0.1:${pgPort}`);
      expect(await portOpen(pgPort)).toBe(true);

      // `npm run worker` beside it joins the same embedded database rather than starting another.
      const worker = runScript("worker", { EMBEDDED_PG_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: "info" });
      await waitFor(async () => worker.output().includes("Using the embedded PostgreSQL already running"), 30_000, 100);
      await waitFor(async () => worker.output().includes("worker started"), 30_000, 100);
      await stopProcess(worker.child, 60_000); // an idle worker stops at once; SIGKILL only if it hangs
      expect(await worker.exited).toBe(0);
      expect(await portOpen(pgPort)).toBe(true);
    } finally {
      await stopProcess(run.child, 15_000);
    }
    await waitFor(async () => !(await portOpen(pgPort)), 15_000, 100);
  });

  it("keeps the data across restarts, and migrates only once", async () => {
    // A folder of its own: this test does not lean on another test having run first.
    const ownDir = mkdtempSync(path.join(tmpdir(), "aw-run-script-restart-"));
    try {
      const [pgPort, httpPort] = [await freePort(), await freePort()];
      const env = { EMBEDDED_PG_DIR: ownDir, EMBEDDED_PG_PORT: String(pgPort), PORT: String(httpPort), WORKER_ENABLED: "false" };
      const url = `http://127.0.0.1:${httpPort}`;
      const first = runScript("start", env);
      const created = await waitFor(async () => {
        const res = await api(url, "/api/entries", { method: "POST", json: { title: "survives a restart" } }).catch(() => null);
        return res?.status === 201 ? res.body : null;
      }, 60_000, 200);
      expect(first.output()).toContain("Applied migrations");
      await stopProcess(first.child, 60_000);
      expect(await first.exited).toBe(0);
      await waitFor(async () => !(await portOpen(pgPort)), 15_000, 100);

      const migrateRun = runScript("migrate", env);
      expect(await migrateRun.exited).toBe(0);
      expect(migrateRun.output()).toContain("Database is up to date");
      expect(migrateRun.output()).not.toContain("Applied migrations");

      const second = runScript("start", env);
      try {
        const again = await waitFor(async () => {
          const res = await api(url, `/api/entries/${created.id}`).catch(() => null);
          return res?.status === 200 ? res.body : null;
        }, 60_000, 200);
        expect(again).toMatchObject({ id: created.id, title: "survives a restart", createdAt: created.createdAt });
      } finally {
        await stopProcess(second.child, 60_000);
      }
    } finally {
      await stopTracked(); // a run a failing assertion left behind still uses the folder
      rmSync(ownDir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ STAGE_DELAY_MS: "soon" }, "STAGE_DELAY_MS"],
    [{ LOCK_TTL_MS: "-5" }, "LOCK_TTL_MS"],
  ])("refuses to start with %j, naming the variable", async (env, variable) => {
    const run = runScript("start", env);
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain(variable);
    expect(run.output()).toContain("Invalid environment configuration");
  });
});
