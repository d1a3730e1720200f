import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { sleep, waitFor } from "../helpers/server";
import { auditExecutions, insertBacklog, reclaimsLogged, startWorkerProcess, type WorkerProcess } from "../helpers/workers";

// Three standalone worker processes on one backlog; one of them is SIGKILLed mid-stage again and
// again and restarted. Nothing may be lost, left locked, or run twice, and every lock reclaimed
// must have belonged to a killed process. A short LOCK_TTL_MS here, so kills are cheap; the
// shipped TTL is kept by worker-reliability.test.ts.

const db = await createTestDatabase();

const ENTRIES = 300;
// High enough that some entries use up their attempts and end FAILED (about 8 %), so that path runs every time.
const FAILURE_RATE = 0.3;
const workerEnv = {
  STAGE_DELAY_MS: "200",
  LOCK_TTL_MS: "1500", // a killed worker's locks are reclaimed 1.5 s later
  WORKER_CONCURRENCY: "10",
  SWEEP_INTERVAL_MS: "200",
  FAILURE_RATE: String(FAILURE_RATE),
  MAX_ATTEMPTS: "3",
  RETRY_BASE_MS: "50",
};

describe("chaos: SIGKILL mid-stage, repeatedly", () => {
  it("completes every entry (or fails it only past the retry limit), exactly once per stage, no lock left", async () => {
    await insertBacklog(db.pool, ENTRIES, "chaos");
    const steady = [startWorkerProcess(db.url, workerEnv), startWorkerProcess(db.url, workerEnv)];
    let victim: WorkerProcess = startWorkerProcess(db.url, workerEnv);
    const killed: WorkerProcess[] = [];
    let kills = 0;
    let killsWhileHolding = 0;
    try {
      const remaining = async () =>
        Number((await db.pool.query(`SELECT count(*) FROM "Entry" WHERE status NOT IN ('COMPLETED','FAILED')`)).rows[0].count);
      const heldByVictim = async () =>
        (await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE "lockedBy" LIKE $1`, [`%:${victim.pid}:%`])).rows[0].n;
      while ((await remaining()) > 0 && kills < 8) {
        // Kill it in the middle of a stage: once it holds locks, at a random moment of the stage.
        await waitFor(async () => (await heldByVictim()) > 0 || (await remaining()) === 0, 30_000, 20);
        await sleep(Math.random() * 150);
        const held = await heldByVictim();
        victim.child.kill("SIGKILL");
        await victim.exited;
        killed.push(victim);
        kills++;
        if (held > 0) killsWhileHolding++;
        victim = startWorkerProcess(db.url, workerEnv);
      }
      await waitFor(async () => (await remaining()) === 0, 60_000, 200);
    } finally {
      await Promise.all([...steady, victim].map((w) => w.stop()));
    }

    const reclaims = [...steady, ...killed, victim].flatMap((w) => reclaimsLogged(w.output()));
    const reclaimed = reclaims.reduce((n, r) => n + r.entries, 0);
    console.log(`[chaos] ${kills} kills (${killsWhileHolding} while holding locks), ${reclaimed} locks reclaimed`);
    const killedPids = killed.map((w) => `:${w.pid}:`);
    const unexplained = reclaims.flatMap((r) => r.holders).filter((holder) => !killedPids.some((pid) => holder.includes(pid)));
    expect(unexplained).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(killsWhileHolding).toBeGreaterThanOrEqual(1);
    const audit = await auditExecutions(db.pool);
    expect(audit.entries).toBe(ENTRIES);
    expect((audit.byStatus.COMPLETED ?? 0) + (audit.byStatus.FAILED ?? 0)).toBe(ENTRIES);
    expect(audit.lockedRows).toBe(0);
    expect(audit.stagesNotExactlyOnce).toBe(0);
    expect(audit.workersSeen.length).toBeGreaterThanOrEqual(2);

    // A FAILED entry failed for the injected reason, on its last allowed attempt.
    const failed = await db.pool.query(`
      SELECT e.id, e.error, e.attempts,
             (SELECT count(*)::int FROM "StageExecution" x WHERE x."entryId" = e.id AND x.outcome = 'FAILED') AS failures
        FROM "Entry" e WHERE e.status = 'FAILED'`);
    expect(failed.rows.length).toBeGreaterThan(0);
    for (const row of failed.rows) {
      expect(row.error).toMatch(/Injected failure/);
      expect(row.attempts).toBeGreaterThanOrEqual(3);
      expect(row.failures).toBeGreaterThanOrEqual(1);
    }
    // With 30 % injected failures and 3 attempts, about 92 % complete.
    expect(audit.byStatus.COMPLETED).toBeGreaterThan(ENTRIES * 0.75);
  });
});

describe("two workers on one backlog", () => {
  it("split it between them without a duplicate stage", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const env = { STAGE_DELAY_MS: "20", WORKER_CONCURRENCY: "40", WORKER_BATCH_SIZE: "40", LOCK_TTL_MS: "30000" };
    const workers = [startWorkerProcess(db.url, env), startWorkerProcess(db.url, env)];
    try {
      // Both up and idle before the backlog lands: its NOTIFY wakes both, and neither can hold
      // more than 40 of the 400, so both take part.
      await waitFor(async () => (await db.pool.query(`SELECT count(*)::int AS n FROM "Worker" WHERE pid = ANY($1::int[])`, [workers.map((w) => w.pid)])).rows[0].n === 2, 20_000);
      await insertBacklog(db.pool, 400, "split");
      await waitFor(
        async () => Number((await db.pool.query(`SELECT count(*) FROM "Entry" WHERE status = 'COMPLETED'`)).rows[0].count) === 400,
        60_000,
        100,
      );
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const audit = await auditExecutions(db.pool);
    expect(audit.byStatus).toEqual({ COMPLETED: 400 });
    expect(audit.stagesNotExactlyOnce).toBe(0);
    expect(audit.lockedRows).toBe(0);
    const share = await db.pool.query(`SELECT "workerId", count(*)::int AS n FROM "StageExecution" GROUP BY 1`);
    expect(share.rows).toHaveLength(2);
    for (const row of share.rows) expect(row.n).toBeGreaterThan(0);
    const failures = await db.pool.query(`SELECT count(*)::int AS n FROM "StageExecution" WHERE outcome <> 'SUCCEEDED'`);
    expect(failures.rows[0].n).toBe(0);
  });
});
