import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedServer } from "@/scripts/embedded-postgres";
import { migrate } from "@/lib/server/migrate";
import { freePort } from "../helpers/ports";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";
import { auditExecutions, reclaimsLogged, startWorkerProcess, type WorkerProcess } from "../helpers/workers";

// PostgreSQL restarted (fast shutdown, a second with no server, start) in the middle of a run:
// the outage costs nothing beyond itself. Its own server, so that no other test file loses its
// database meanwhile; default LOCK_TTL_MS.

const dataDir = mkdtempSync(path.join(tmpdir(), "aw-restart-pg-"));
let postgres: EmbeddedServer;
let url: string;
let pool: pg.Pool;

beforeAll(async () => {
  postgres = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
  url = await postgres.ensureDatabase("restart_test");
  await migrate(url);
  pool = new pg.Pool({ connectionString: url });
  pool.on("error", () => {}); // its idle connections die with the restart
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const count = async (condition: string) => (await pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE ${condition}`)).rows[0].n as number;

describe("a database restart mid-run", () => {
  it("finishes every entry with no reclaim, and readiness and LISTEN come back", { timeout: 120_000 }, async () => {
    // Sweeps a minute apart: after the restart, only LISTEN (or work in hand) can wake a worker.
    const env = { STAGE_DELAY_MS: "500", SWEEP_INTERVAL_MS: "60000" };
    let server: TestServer | undefined;
    let worker: WorkerProcess | undefined;
    try {
      server = await startServer(url, { ...env, RATE_LIMIT_CREATES_PER_MINUTE: "0" });
      worker = startWorkerProcess(url, env);
      const web = server;
      await waitFor(async () => (await api(web.url, "/api/health/ready")).status === 200, 20_000, 100);
      await Promise.all(Array.from({ length: 60 }, (_, i) => api(web.url, "/api/entries", { method: "POST", json: { title: `outage ${i}` } })));
      await waitFor(async () => (await count(`status = 'STAGE_1' AND "lockedBy" IS NOT NULL`)) > 0, 20_000, 20);
      const lockedAtRestart = await count(`"lockedBy" IS NOT NULL`);

      await postgres.restart(1000);

      await waitFor(async () => (await count(`status NOT IN ('COMPLETED', 'FAILED')`).catch(() => -1)) === 0, 60_000, 200);
      await waitFor(async () => (await api(web.url, "/api/health/ready")).status === 200, 20_000, 200);

      // LISTEN is back: an entry inserted behind the app's back (no hand-over) is picked up long
      // before the next sweep.
      const { rows } = await pool.query(`INSERT INTO "Entry" (title) VALUES ('after the restart') RETURNING id`);
      await waitFor(async () => (await pool.query(`SELECT status FROM "Entry" WHERE id = $1`, [rows[0].id])).rows[0].status === "COMPLETED", 20_000, 100);

      const audit = await auditExecutions(pool);
      expect(lockedAtRestart).toBeGreaterThan(0);
      expect(audit).toMatchObject({ entries: 61, byStatus: { COMPLETED: 61 }, lockedRows: 0, stagesNotExactlyOnce: 0 });
      expect([...reclaimsLogged(server.output()), ...reclaimsLogged(worker.output())]).toEqual([]);
      expect(server.output() + worker.output()).not.toContain("failed unexpectedly");
    } finally {
      await Promise.all([server?.stop(), worker?.stop()]);
    }
  });
});
