import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor } from "../helpers/server";
import { SseClient } from "../helpers/sse";
import { auditExecutions, insertBacklog, reclaimsLogged, startWorkerProcess } from "../helpers/workers";

// Retries with backoff, heartbeats, graceful shutdown, and restarts of the web server.

const db = await createTestDatabase();
const { StageWorker, workerOptionsFromConfig } = await import("@/lib/server/worker/stage-worker");
const { createEntry } = await import("@/lib/server/entries/create");

const workers: InstanceType<typeof StageWorker>[] = [];
let started = 0;
function worker(overrides: Partial<Parameters<typeof workerOptionsFromConfig>[0]>) {
  // Ids never repeat across tests, as a real worker's (host:pid:random) never do.
  const w = new StageWorker(workerOptionsFromConfig({ workerId: `test-${started++}`, sweepIntervalMs: 50, ...overrides }));
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
    const max = 300; // caps the third delay (its ceiling would be 480)
    worker({ stageDelayMs: 0, failureRate: 1, maxAttempts: 4, retryBaseMs: base, retryMaxMs: max });
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
    // The stored times: delay n (retryAt − finishedAt) lies in [ceiling/2, ceiling], ceiling =
    // min(base × 2^(n−1), RETRY_MAX_MS), so each delay is at least the previous one's maximum; and no
    // attempt starts before its retryAt.
    const delays = runs.slice(0, 3).map((r) => r.retryAt.getTime() - r.finishedAt.getTime());
    delays.forEach((d, i) => {
      const ceiling = Math.min(max, base * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2 - 5);
      expect(d).toBeLessThanOrEqual(ceiling + 5);
    });
    expect(delays[1]!).toBeGreaterThanOrEqual(delays[0]! - 5); // growing while uncapped; capped, within [max/2, max]
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
    const first = worker(options);
    await waitFor(async () => (await entryRow(entry.id)).lockedBy?.startsWith(`${first.id}#`), 5000, 10);
    worker(options); // a second worker that would reclaim any lock left to expire
    await waitFor(async () => (await entryRow(entry.id)).status === "COMPLETED", 15_000);
    const runs = await events(entry.id);
    expect(runs).toHaveLength(3);
    expect(runs.every((r) => r.attempt === 1 && r.outcome === "SUCCEEDED")).toBe(true);
  });
});

// Stopping a worker process (SIGINT/SIGTERM, within and past the grace period) is tested at the
// shipped defaults in worker-reliability.test.ts.

describe("the web server", () => {
  it("finishes every entry after a restart that interrupted them mid-stage", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    // Stages far longer than the test: every entry is certainly held when the server dies.
    const first = await startServer(db.url, { STAGE_DELAY_MS: "600000" });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await api(first.url, "/api/entries", { method: "POST", json: { title: `restart ${i}` } })).body.id);
    }
    const count = async (condition: string) => (await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE ${condition}`)).rows[0].n;
    await waitFor(async () => (await count(`"lockedBy" IS NOT NULL`)) === 10, 10_000, 20);
    // No goodbye: the process dies holding its locks, as in a crash or an OOM kill.
    first.kill("SIGKILL");
    await first.stop();
    const firstHolder = (await db.pool.query(`SELECT DISTINCT split_part("lockedBy", '#', 1) AS w FROM "Entry"`)).rows.map((r) => r.w);
    expect(firstHolder).toHaveLength(1);

    const second = await startServer(db.url, { STAGE_DELAY_MS: "100", LOCK_TTL_MS: "1500", SWEEP_INTERVAL_MS: "200" });
    try {
      await waitFor(async () => (await count(`status = 'COMPLETED'`)) === ids.length, 30_000, 100);
    } finally {
      await second.stop();
    }
    // The reclaim path ran, for exactly the dead server's ten locks.
    const reclaims = reclaimsLogged(second.output());
    expect(reclaims.reduce((n, r) => n + r.entries, 0)).toBe(10);
    expect(new Set(reclaims.flatMap((r) => r.holders.map((h) => h.split("#")[0])))).toEqual(new Set(firstHolder));
    const audit = await auditExecutions(db.pool);
    expect(audit.stagesNotExactlyOnce).toBe(0);
    expect(audit.lockedRows).toBe(0);
  });

  it("with its worker turned off, leaves a backlog to standalone workers", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const server = await startServer(db.url, { WORKER_ENABLED: "false", STAGE_DELAY_MS: "10" });
    try {
      const { body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "for the worker" } });
      await insertBacklog(db.pool, 20);
      // No worker anywhere (once the server an earlier test killed counts as dead): not ready, and it says why.
      const notReady = await waitFor(async () => {
        const r = await api(server.url, "/api/health/ready");
        return r.status === 503 ? r.body : null;
      }, 20_000, 200);
      expect(notReady.checks).toEqual({ database: true, migrations: true, worker: false });
      // And meanwhile the web server has not touched its entry.
      expect(await entryRow(body.id)).toMatchObject({ status: "CREATED", lockedBy: null, attempts: 0 });
      // The web server's own subscribers see what a standalone worker does.
      const streams = await Promise.all([1, 2].map(() => SseClient.connect(server.url)));
      const w = startWorkerProcess(db.url, { STAGE_DELAY_MS: "10" });
      try {
        await waitFor(async () => (await entryRow(body.id)).status === "COMPLETED", 15_000);
        for (const stream of streams) {
          await stream.next((e) => e.event === "entry" && e.data.id === body.id && e.data.status === "COMPLETED");
        }
        expect((await events(body.id))[0].workerId).toContain(`:${w.pid}:`);
        expect((await api(server.url, "/api/health/ready")).body.detail.liveWorkers).toHaveLength(1);
      } finally {
        for (const stream of streams) stream.close();
        await w.stop();
      }
    } finally {
      await server.stop();
    }
  });
});

describe("wake-ups", () => {
  // A sweep a minute away: only NOTIFY can bring an idle worker to new work in time.
  const idle = { STAGE_DELAY_MS: "10", SWEEP_INTERVAL_MS: "60000" };
  const alive = (pid: number) =>
    waitFor(async () => (await db.pool.query(`SELECT 1 FROM "Worker" WHERE pid = $1 AND "stoppedAt" IS NULL`, [pid])).rowCount === 1, 10_000);
  const insertOne = async (title: string) => (await db.pool.query(`INSERT INTO "Entry" (title) VALUES ($1) RETURNING id`, [title])).rows[0].id as string;
  const completes = (id: string) => waitFor(async () => (await entryRow(id)).status === "COMPLETED", 20_000);

  it("an idle standalone worker is woken by NOTIFY for an entry inserted behind the app's back", async () => {
    const w = startWorkerProcess(db.url, idle);
    try {
      await alive(w.pid);
      await completes(await insertOne("notified"));
    } finally {
      await w.stop();
    }
  });

  it("a worker whose LISTEN connection is cut reconnects and is woken again", async () => {
    const w = startWorkerProcess(db.url, idle);
    try {
      await alive(w.pid);
      const listening = async () =>
        (await db.pool.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`)).rows.map((r) => r.pid);
      const [before] = await waitFor(async () => ((await listening()).length === 1 ? await listening() : null), 10_000);
      await db.pool.query(`SELECT pg_terminate_backend($1)`, [before]);
      await waitFor(async () => {
        const now = await listening();
        return now.length === 1 && now[0] !== before;
      }, 10_000);
      await completes(await insertOne("after the cut"));
      expect(w.output()).toContain("LISTEN connection lost; reconnecting");
    } finally {
      await w.stop();
    }
  });
});

describe("when a batch's advance fails", () => {
  it("advances the rest one by one, and only the bad entry fails its stage", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const ids = await Promise.all(["good 1", "poisoned", "good 2"].map(async (t) => (await createEntry(t)).id));
    // A success already recorded for the poisoned entry's first stage: the batch's INSERT of its
    // execution breaks the partial unique index, and the whole batch statement fails.
    await db.pool.query(
      `INSERT INTO "StageExecution" ("entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", outcome)
       VALUES ($1, 'CREATED', 'STAGE_1', 'someone-else', 1, now(), 'SUCCEEDED')`,
      [ids[1]],
    );
    worker({ stageDelayMs: 0, maxAttempts: 2, retryBaseMs: 10, retryMaxMs: 10 });
    await waitFor(async () => {
      const statuses = await Promise.all(ids.map(async (id) => (await entryRow(id)).status));
      return statuses.every((s) => s === "COMPLETED" || s === "FAILED");
    }, 20_000);
    expect(await Promise.all(ids.map(async (id) => (await entryRow(id)).status))).toEqual(["COMPLETED", "FAILED", "COMPLETED"]);
    const poisoned = await entryRow(ids[1]!);
    expect(poisoned).toMatchObject({ progress: 0, lockedBy: null });
    expect(poisoned.error).toMatch(/duplicate key|unique/i);
  });
});

describe("a lock taken away mid-stage", () => {
  it("drops the stage's result and leaves the entry to its new holder", async () => {
    const entry = await createEntry("taken away");
    let endStage!: () => void;
    const stageEnds = new Promise<void>((r) => (endStage = r));
    let writesDone!: (advanced: string[]) => void;
    const claimFinished = new Promise<string[]>((r) => (writesDone = r));
    let started = false;
    worker({
      lockTtlMs: 300, // locks refreshed every 100 ms, so the loss is also noticed mid-stage
      hooks: {
        stageWork: async () => {
          started = true;
          await stageEnds;
        },
        afterWrites: async (advanced) => writesDone(advanced),
      },
    });
    await waitFor(async () => started, 5000, 10);
    // An operator (or a rescuer) takes the lock while the stage runs.
    await db.pool.query(`UPDATE "Entry" SET "lockedBy" = 'rescuer#1', "lockedAt" = now() + interval '1 hour' WHERE id = $1`, [entry.id]);
    endStage();
    expect(await claimFinished).toEqual([]); // the claim wrote nothing
    expect(await events(entry.id)).toEqual([]);
    expect(await entryRow(entry.id)).toMatchObject({ status: "CREATED", lockedBy: "rescuer#1" });
  });
});
