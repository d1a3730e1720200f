import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { waitFor } from "../helpers/server";

// One worker's own claims: overlapping claims of one entry never drop each other's lock, and
// claims that overlap in time never take the worker past its capacity. Each race is made to
// happen on purpose with the worker's hooks, not hoped for.

const db = await createTestDatabase();
const { StageWorker, workerOptionsFromConfig } = await import("@/lib/server/worker/stage-worker");
const { createEntry } = await import("@/lib/server/entries/create");
const { updateEntry } = await import("@/lib/server/entries/update");

const workers: InstanceType<typeof StageWorker>[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});
function startWorker(overrides: Partial<Parameters<typeof workerOptionsFromConfig>[0]>) {
  const w = new StageWorker(workerOptionsFromConfig({ workerId: `claims-${workers.length}`, sweepIntervalMs: 50, ...overrides }));
  workers.push(w);
  w.start();
  return w;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const row = async (id: string) => (await db.pool.query(`SELECT * FROM "Entry" WHERE id = $1`, [id])).rows[0];

describe("one worker, two overlapping claims of the same entry", () => {
  it("advances an entry re-claimed between one claim's advance and its cleanup", async () => {
    const entry = await createEntry("re-claimed");
    const secondStage = deferred();
    const secondStageStarted = deferred();
    let stages = 0;
    let paused = false;
    startWorker({
      hooks: {
        stageWork: async () => {
          stages++;
          if (stages === 2) {
            secondStageStarted.resolve();
            await secondStage.promise;
          }
        },
        afterWrites: async (ids) => {
          if (paused || !ids.includes(entry.id)) return;
          paused = true;
          // Claim A advanced the entry; before A cleans up, the claim loop takes it again (claim B)…
          await secondStageStarted.promise;
          // …and B's stage ends only after A's cleanup has run.
          setTimeout(() => secondStage.resolve(), 0);
        },
      },
    });
    await waitFor(async () => (await row(entry.id)).status === "COMPLETED", 10_000).catch(async () => {
      throw new Error(`entry stuck: ${JSON.stringify(await row(entry.id))}`);
    });
    expect(paused).toBe(true);
    expect((await row(entry.id)).lockedBy).toBeNull();
    const runs = await db.pool.query(`SELECT "workerId", outcome FROM "StageExecution" WHERE "entryId" = $1 ORDER BY id`, [entry.id]);
    expect(runs.rows).toEqual(Array(3).fill({ workerId: "claims-0", outcome: "SUCCEEDED" }));
  });
});

describe("capacity", () => {
  it("never holds more than WORKER_CONCURRENCY entries, however many are handed over at once", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => createEntry(`handed over ${i}`).then((e) => e.id)));
    const gate = deferred();
    const inStage = new Set<string>();
    let most = 0;
    const w = startWorker({
      concurrency: 3,
      sweepIntervalMs: 60_000,
      hooks: {
        stageWork: async (entry) => {
          inStage.add(entry.id);
          most = Math.max(most, inStage.size);
          await gate.promise;
          inStage.delete(entry.id);
        },
      },
    });
    // As POST /api/entries does for each new entry, all at once (the claim loop competes too).
    const returned = new Set<string>();
    const handovers = ids.map((id) => w.processEntry(id).then(() => returned.add(id)));
    try {
      // Capacity is full, and every handover has either started its stage or returned.
      await waitFor(async () => inStage.size >= 3 && ids.every((id) => returned.has(id) || inStage.has(id)), 10_000, 10);
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE "lockedBy" IS NOT NULL`);
      expect({ most, locked: rows[0].n }).toEqual({ most: 3, locked: 3 });
    } finally {
      gate.resolve();
    }
    await Promise.all(handovers);
    await waitFor(async () => {
      const done = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status = 'COMPLETED'`);
      return done.rows[0].n === ids.length;
    }, 20_000);
    expect(most).toBe(3);
  });
});

describe("a manual edit (the internal PATCH) racing the worker", () => {
  it("is refused while the worker holds the entry mid-stage, and the worker carries on", async () => {
    const entry = await createEntry("edited mid-stage");
    let refusal: unknown;
    let tried = false;
    startWorker({
      hooks: {
        stageWork: async () => {
          if (tried) return;
          tried = true;
          refusal = await updateEntry(entry.id, { status: "FAILED" }, null).catch((error: unknown) => error);
        },
      },
    });
    await waitFor(async () => (await row(entry.id)).status === "COMPLETED", 10_000);
    expect(refusal).toMatchObject({ status: 409, code: "conflict" });
  });

  it("is final when it lands between two stages: the worker does not carry the entry past it", async () => {
    const entry = await createEntry("edited between stages");
    let edited = false;
    // A running worker claims the next stage in the same write as the advance, so the entry is
    // free between two stages only when its worker stops after one: then the edit lands.
    const w = startWorker({
      hooks: {
        stageWork: async () => {
          void w.stop();
        },
        afterWrites: async (advanced) => {
          if (edited || !advanced.includes(entry.id)) return;
          expect((await row(entry.id)).lockedBy).toBeNull();
          edited = true;
          await updateEntry(entry.id, { status: "FAILED" }, null);
        },
      },
    });
    await waitFor(async () => edited && (await row(entry.id)).status === "FAILED", 10_000);
    await startWorker({}).processEntry(entry.id); // another worker asked to carry it on: it claims nothing
    expect(await row(entry.id)).toMatchObject({ status: "FAILED", progress: 33, error: "Failed by an operator", lockedBy: null });
    const runs = await db.pool.query(`SELECT "fromStatus", outcome FROM "StageExecution" WHERE "entryId" = $1`, [entry.id]);
    expect(runs.rows).toEqual([{ fromStatus: "CREATED", outcome: "SUCCEEDED" }]);
  });
});
