import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";
import { auditExecutions, insertBacklog, reclaimsLogged, startWorkerProcess, type WorkerProcess } from "../helpers/workers";

// The worker under ordinary conditions, at the shipped LOCK_TTL_MS (2 minutes): bursts of creates,
// stopping processes that hold entries, and a process killed outright. A lock is reclaimed only
// when its holder died; anything else is a leaked lock and a bug.

const db = await createTestDatabase();

const countWhere = async (condition: string) =>
  (await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE ${condition}`)).rows[0].n as number;
const allFinished = () => waitFor(async () => (await countWhere(`status NOT IN ('COMPLETED', 'FAILED')`)) === 0, 60_000, 100, "every entry finished");
const createMany = (server: TestServer, n: number, prefix: string) =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      api(server.url, "/api/entries", { method: "POST", json: { title: `${prefix} ${i}` } }).then((r) => {
        if (r.status !== 201) throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
      }),
    ),
  );

describe("bursts of creates", () => {
  it("finish every entry with no lock ever reclaimed: web worker plus two standalone workers", { timeout: 240_000 }, async () => {
    const env = { STAGE_DELAY_MS: "100" };
    const server = await startServer(db.url, { ...env, RATE_LIMIT_CREATES_PER_MINUTE: "0" });
    const workers = [startWorkerProcess(db.url, env), startWorkerProcess(db.url, env)];
    try {
      await waitFor(async () => (await api(server.url, "/api/health/ready")).body.detail.liveWorkers.length === 3, 60_000, 100, "three live workers");
      // Three bursts, each landing while the previous one is in full flight.
      await createMany(server, 150, "burst a");
      await waitFor(async () => (await countWhere(`status = 'STAGE_2'`)) > 0, 60_000, 20, "the first burst in stage 2");
      await createMany(server, 150, "burst b");
      await waitFor(async () => (await countWhere(`status = 'COMPLETED'`)) > 0, 60_000, 20, "a first completion");
      await createMany(server, 150, "burst c");
      // Far below the TTL: an entry frozen by a leaked lock would still be waiting.
      await allFinished();
    } finally {
      await Promise.all([server.stop(), ...workers.map((w) => w.stop())]);
    }
    const audit = await auditExecutions(db.pool);
    expect(audit.byStatus).toEqual({ COMPLETED: 450 });
    expect(audit.lockedRows).toBe(0);
    expect(audit.stagesNotExactlyOnce).toBe(0);
    const reclaims = [server.output(), ...workers.map((w) => w.output())].flatMap(reclaimsLogged);
    expect(reclaims).toEqual([]);
    expect(audit.workersSeen).toHaveLength(3); // all three took part
    // One listener per process, not one per stage (Node warns past ten on one AbortSignal).
    expect([server.output(), ...workers.map((w) => w.output())].join("")).not.toContain("MaxListenersExceededWarning");
  });
});

describe("stopping a process that holds entries", () => {
  // Stages far longer than the test, so the process certainly holds its entries when it is told to
  // stop; a short grace period makes it hand them back rather than wait.
  const holding = { STAGE_DELAY_MS: "600000", SHUTDOWN_GRACE_MS: "300" };

  it.each(["SIGINT", "SIGTERM"] as const)("the web server, on %s, hands back every lock; a restart resumes at once", async (signal) => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const first = await startServer(db.url, { ...holding, RATE_LIMIT_CREATES_PER_MINUTE: "0" });
    await createMany(first, 5, `stop ${signal}`);
    await waitFor(async () => (await countWhere(`"lockedBy" IS NOT NULL`)) === 5, 10_000, 20);
    first.kill(signal);
    await first.stop();
    expect(await countWhere(`"lockedBy" IS NOT NULL`)).toBe(0);
    expect(await countWhere(`status = 'CREATED' AND attempts = 0`)).toBe(5); // the interrupted attempt does not count

    const second = await startServer(db.url, { STAGE_DELAY_MS: "50" });
    try {
      await allFinished();
    } finally {
      await second.stop();
    }
    expect(reclaimsLogged(second.output())).toEqual([]);
    expect(await countWhere(`status = 'COMPLETED'`)).toBe(5);
  });

  it.each(["SIGINT", "SIGTERM"] as const)("a standalone worker, on %s, hands back every lock; another resumes at once", async (signal) => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    await insertBacklog(db.pool, 5, `worker ${signal}`);
    const first = startWorkerProcess(db.url, holding);
    await waitFor(async () => (await countWhere(`"lockedBy" IS NOT NULL`)) === 5, 10_000, 20);
    first.child.kill(signal);
    expect(await first.exited).toBe(0);
    expect(await countWhere(`"lockedBy" IS NOT NULL`)).toBe(0);

    const second = startWorkerProcess(db.url, { STAGE_DELAY_MS: "50" });
    try {
      await allFinished();
    } finally {
      await second.stop();
    }
    expect(reclaimsLogged(second.output())).toEqual([]);
  });

  it("finishes the stages in hand when they end within the grace period (the defaults)", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    await insertBacklog(db.pool, 3, "graceful");
    const w = startWorkerProcess(db.url, { STAGE_DELAY_MS: "4000" }); // far longer than a signal takes to land
    await waitFor(async () => (await countWhere(`"lockedBy" IS NOT NULL`)) === 3, 10_000, 20);
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    expect(await countWhere(`"lockedBy" IS NOT NULL`)).toBe(0);
    expect(await countWhere(`status = 'STAGE_1'`)).toBe(3);
  });
});

describe("a worker killed outright", () => {
  it("has its entries resumed by another worker within seconds, far below the lock TTL", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    await insertBacklog(db.pool, 20, "orphaned");
    // The victim takes 10 and works on them "forever"; the survivor starts after the kill.
    const victim: WorkerProcess = startWorkerProcess(db.url, { STAGE_DELAY_MS: "600000", WORKER_CONCURRENCY: "10" });
    await waitFor(async () => (await countWhere(`"lockedBy" LIKE '%:${victim.pid}:%'`)) === 10, 10_000, 20);
    victim.child.kill("SIGKILL");
    await victim.exited;
    const started = Date.now();
    const survivor = startWorkerProcess(db.url, { STAGE_DELAY_MS: "50" });
    try {
      await allFinished(); // 60 s at most: half the 2-minute TTL
    } finally {
      await survivor.stop();
    }
    const reclaims = reclaimsLogged(survivor.output());
    expect(reclaims.reduce((n, r) => n + r.entries, 0)).toBe(10);
    expect(reclaims.flatMap((r) => r.holders).every((holder) => holder.includes(`:${victim.pid}:`))).toBe(true);
    const audit = await auditExecutions(db.pool);
    expect(audit).toMatchObject({ byStatus: { COMPLETED: 20 }, lockedRows: 0, stagesNotExactlyOnce: 0 });
    console.log(`[worker killed outright] its 10 entries resumed within ${((Date.now() - started) / 1000).toFixed(1)} s of the kill`);
  });
});
