import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, sleep, startServer, waitFor } from "../helpers/server";
import { auditExecutions, insertBacklog, startWorkerProcess } from "../helpers/workers";

// Retries with backoff, heartbeats, graceful shutdown, and restarts of the web server.

const db = await createTestDatabase();
const { StageWorker, workerOptionsFromConfig } = await import("@/lib/server/worker/stage-worker");
const { createEntry } = await import("@/lib/entries");

const workers: InstanceType<typeof StageWorker>[] = [];
function worker(overrides: Partial<Parameters<typeof workerOptionsFromConfig>[0]>) {
  const w = new StageWorker(workerOptionsFromConfig({ workerId: `test-${workers.length}`, sweepIntervalMs: 50, ...overrides }));
  workers.push(w);
  w.start();
  return w;
}
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

const entryRow = async (id: string) => (await db.pool.query(`SELECT * FROM "Entry" WHERE id = $1`, [id])).rows[0];
const events = async (id: string) =>
  (await db.pool.query(`SELECT * FROM "StageExecution" WHERE "entryId" = $1 ORDER BY id`, [id])).rows;

describe("retries", () => {
  it("retries a failing stage with growing, jittered delays, then fails it keeping the error", async () => {
    const entry = await createEntry("always fails");
    const base = 120;
    worker({ stageDelayMs: 0, failureRate: 1, maxAttempts: 4, retryBaseMs: base, retryMaxMs: 10_000 });
    await waitFor(async () => (await entryRow(entry.id)).status === "FAILED", 20_000);

    const row = await entryRow(entry.id);
    expect(row.error).toMatch(/Injected failure/);
    expect(row.attempts).toBe(4);
    expect(row.lockedBy).toBeNull();
    const runs = await events(entry.id);
    expect(runs.map((r) => [r.attempt, r.outcome, r.toStatus])).toEqual([
      [1, "FAILED", "CREATED"],
      [2, "FAILED", "CREATED"],
      [3, "FAILED", "CREATED"],
      [4, "FAILED", "FAILED"],
    ]);
    // The stored times: delay n (retryAt − finishedAt) lies in [ceiling/2, ceiling], ceiling = base × 2^(n−1),
    // so each delay is at least the previous one's maximum; and no attempt starts before its retryAt.
    const delays = runs.slice(0, 3).map((r) => r.retryAt.getTime() - r.finishedAt.getTime());
    delays.forEach((d, i) => {
      const ceiling = base * 2 ** i;
      expect(d).toBeGreaterThanOrEqual(ceiling / 2 - 5);
      expect(d).toBeLessThanOrEqual(ceiling + 5);
    });
    expect(delays[1]!).toBeGreaterThanOrEqual(delays[0]! - 5);
    expect(delays[2]!).toBeGreaterThanOrEqual(delays[1]! - 5);
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i].startedAt.getTime()).toBeGreaterThanOrEqual(runs[i - 1].retryAt.getTime());
    }
    expect(runs[3].retryAt).toBeNull();
  });

  it("resets the attempt count when a stage succeeds", async () => {
    const entry = await createEntry("succeeds");
    worker({ stageDelayMs: 0 });
    await waitFor(async () => (await entryRow(entry.id)).status === "COMPLETED", 10_000);
    const row = await entryRow(entry.id);
    expect(row.attempts).toBe(0);
    expect((await events(entry.id)).map((r) => [r.fromStatus, r.toStatus, r.attempt, r.outcome])).toEqual([
      ["CREATED", "STAGE_1", 1, "SUCCEEDED"],
      ["STAGE_1", "STAGE_2", 1, "SUCCEEDED"],
      ["STAGE_2", "COMPLETED", 1, "SUCCEEDED"],
    ]);
  });
});

describe("heartbeat", () => {
  it("keeps the lock of a stage that runs longer than the lock TTL, so no other worker takes it", async () => {
    const entry = await createEntry("long stage");
    const options = { stageDelayMs: 900, lockTtlMs: 300 };
    worker(options);
    await sleep(50);
    worker(options); // a second worker that would reclaim any lock left to expire
    await waitFor(async () => (await entryRow(entry.id)).status === "COMPLETED", 15_000);
    const runs = await events(entry.id);
    expect(runs).toHaveLength(3);
    expect(runs.every((r) => r.attempt === 1 && r.outcome === "SUCCEEDED")).toBe(true);
  });
});

describe("graceful shutdown of a worker process", () => {
  it("on SIGTERM, finishes the stage in hand within the grace period and exits", async () => {
    const entry = await createEntry("finish me");
    const w = startWorkerProcess(db.url, { STAGE_DELAY_MS: "600", SHUTDOWN_GRACE_MS: "5000" });
    await waitFor(async () => (await entryRow(entry.id)).lockedBy !== null, 10_000, 20);
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    const row = await entryRow(entry.id);
    expect(row.status).toBe("STAGE_1");
    expect(row.lockedBy).toBeNull();
  });

  it("on SIGTERM with a stage longer than the grace period, releases its lock and exits in bounded time", async () => {
    const entry = await createEntry("release me");
    const w = startWorkerProcess(db.url, { STAGE_DELAY_MS: "60000", SHUTDOWN_GRACE_MS: "300" });
    await waitFor(async () => (await entryRow(entry.id)).lockedBy !== null, 10_000, 20);
    const started = Date.now();
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const row = await entryRow(entry.id);
    expect(row).toMatchObject({ status: "CREATED", lockedBy: null, attempts: 0 });
  });
});

describe("the web server", () => {
  it("finishes every entry after a restart that interrupted them mid-stage", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const env = { STAGE_DELAY_MS: "700", LOCK_TTL_MS: "1500", SWEEP_INTERVAL_MS: "200" };
    const first = await startServer(db.url, env);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await api(first.url, "/api/entries", { method: "POST", json: { title: `restart ${i}` } })).body.id);
    }
    await waitFor(async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status = 'STAGE_1'`);
      return rows[0].n > 0;
    }, 10_000, 20);
    // No goodbye: the process dies holding its locks, as in a crash or an OOM kill.
    first.kill("SIGKILL");
    await first.stop();

    const second = await startServer(db.url, env);
    try {
      await waitFor(async () => {
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status = 'COMPLETED'`);
        return rows[0].n === ids.length;
      }, 30_000, 100);
    } finally {
      await second.stop();
    }
    const audit = await auditExecutions(db.pool);
    expect(audit.stagesNotExactlyOnce).toBe(0);
    expect(audit.lockedRows).toBe(0);
  });

  it("with its worker turned off, leaves a backlog to standalone workers", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const server = await startServer(db.url, { WORKER_ENABLED: "false", STAGE_DELAY_MS: "10" });
    try {
      const { body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "for the worker" } });
      await sleep(500);
      expect((await entryRow(body.id)).status).toBe("CREATED");
      await insertBacklog(db.pool, 20);
      const w = startWorkerProcess(db.url, { STAGE_DELAY_MS: "10" });
      try {
        await waitFor(async () => (await entryRow(body.id)).status === "COMPLETED", 15_000);
      } finally {
        await w.stop();
      }
    } finally {
      await server.stop();
    }
  });
});
