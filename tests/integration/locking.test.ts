import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";

// The spec's lockedBy/lockedAt rules, exercised against real PostgreSQL with many connections.

const db = await createTestDatabase();
const { createEntry } = await import("@/lib/server/entries/create");
const { claimEntry, claimEntries, advanceEntries, failStage, heldBy, recordedBy } = await import("@/lib/server/worker/queries");

const TTL = 60_000;

describe("claiming a row", () => {
  it("lets exactly one of many concurrent claimers win, every time", async () => {
    for (let round = 0; round < 40; round++) {
      const entry = await createEntry(`race ${round}`);
      const claimers = Array.from({ length: 16 }, (_, i) => `worker-${round}-${i}`);
      // Each claimer runs on its own pooled connection, so the UPDATEs really race in PostgreSQL.
      const results = await Promise.all(claimers.map((w) => claimEntry(entry.id, w, TTL)));
      const winners = claimers.filter((_, i) => results[i] !== null);
      expect(winners).toHaveLength(1);
      const { rows } = await db.pool.query(`SELECT "lockedBy", attempts FROM "Entry" WHERE id = $1`, [entry.id]);
      expect(rows[0]).toEqual({ lockedBy: winners[0], attempts: 1 });
    }
  });

  it("lets an expired lock be reclaimed, and not a fresh one", async () => {
    const entry = await createEntry("expiring");
    expect(await claimEntry(entry.id, "old-worker", TTL)).not.toBeNull();
    expect(await claimEntry(entry.id, "new-worker", TTL)).toBeNull();
    await db.pool.query(`UPDATE "Entry" SET "lockedAt" = now() - interval '2 minutes' WHERE id = $1`, [entry.id]);
    const reclaimed = await claimEntry(entry.id, "new-worker", TTL);
    expect(reclaimed).toMatchObject({ id: entry.id, status: "CREATED", attempts: 2 });
    const { rows } = await db.pool.query(`SELECT "lockedBy" FROM "Entry" WHERE id = $1`, [entry.id]);
    expect(rows[0].lockedBy).toBe("new-worker");
  });

  it("takes an abandoned lock first, even while free entries would fill the whole batch", async () => {
    const orphan = await createEntry("held by a dead worker");
    expect(await claimEntry(orphan.id, "gone#1", TTL)).not.toBeNull();
    await db.pool.query(`INSERT INTO "Worker" (id, hostname, pid, "stoppedAt") VALUES ('gone', 'h', 1, now())`);
    for (let i = 0; i < 3; i++) await createEntry(`free ${i}`);
    const batch = await claimEntries("w#abandoned", TTL, 2);
    expect(batch).toHaveLength(2);
    expect(batch.find((e) => e.id === orphan.id)).toMatchObject({ previousHolder: "gone#1", attempts: 2 });
  });

  it("never claims a terminal entry", async () => {
    const entry = await createEntry("done");
    await db.pool.query(`UPDATE "Entry" SET status = 'COMPLETED' WHERE id = $1`, [entry.id]);
    expect(await claimEntry(entry.id, "w", TTL)).toBeNull();
  });
});

describe("a worker whose lock was taken", () => {
  it("cannot advance or fail the row", async () => {
    const entry = await createEntry("stolen");
    const slow = (await claimEntry(entry.id, "slow-worker", TTL))!;
    await db.pool.query(`UPDATE "Entry" SET "lockedAt" = now() - interval '5 minutes' WHERE id = $1`, [entry.id]);
    expect(await claimEntry(entry.id, "rescuer", TTL)).not.toBeNull();

    const { advanced } = await advanceEntries("slow-worker", [{ entry: slow, to: "STAGE_1", progress: 33, result: null }]);
    expect(advanced).toEqual([]);
    expect(await failStage("slow-worker", { entry: slow, message: "boom", retryDelayMs: null })).toBe(false);

    const { rows } = await db.pool.query(`SELECT status, progress, "lockedBy", error FROM "Entry" WHERE id = $1`, [entry.id]);
    expect(rows[0]).toEqual({ status: "CREATED", progress: 0, lockedBy: "rescuer", error: null });
    const events = await db.pool.query(`SELECT count(*)::int AS n FROM "StageExecution" WHERE "entryId" = $1`, [entry.id]);
    expect(events.rows[0].n).toBe(0);
  });

  it("the holder advances and releases in one step", async () => {
    const entry = await createEntry("held");
    const claimed = (await claimEntry(entry.id, "holder", TTL))!;
    expect(await advanceEntries("holder", [{ entry: claimed, to: "STAGE_1", progress: 33, result: null }])).toEqual({ advanced: [entry.id], next: [] });
    const { rows } = await db.pool.query(`SELECT status, progress, "lockedBy", "lockedAt" FROM "Entry" WHERE id = $1`, [entry.id]);
    expect(rows[0]).toEqual({ status: "STAGE_1", progress: 33, lockedBy: null, lockedAt: null });
  });

  it("can tell afterwards whether a claim's write landed (for a write whose answer was lost)", async () => {
    const entry = await createEntry("answer lost");
    const first = (await claimEntry(entry.id, "w#1", TTL))!;
    expect(await recordedBy("w#1", [first])).toEqual(new Set());
    expect(await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }])).toEqual({ advanced: [entry.id], next: [] });
    // Repeating the write changes nothing and reports nothing; the record says it landed.
    expect(await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }])).toEqual({ advanced: [], next: [] });
    expect(await recordedBy("w#1", [first])).toEqual(new Set([entry.id]));
    // The same worker's next claim of the entry is another claim.
    const second = (await claimEntry(entry.id, "w#2", TTL))!;
    expect(await recordedBy("w#2", [second])).toEqual(new Set());
    const { rows } = await db.pool.query(`SELECT "workerId" FROM "StageExecution" WHERE "entryId" = $1`, [entry.id]);
    expect(rows).toEqual([{ workerId: "w" }]);
  });
});

describe("an advance that claims the next stage (a worker following its entries)", () => {
  const lockOf = async (id: string) =>
    (await db.pool.query(`SELECT status, progress, attempts, "lockedBy", "lockedAt" FROM "Entry" WHERE id = $1`, [id])).rows[0];

  it("moves the lock from one stage's token to the next one's, as a fresh claim, in one write", async () => {
    const entry = await createEntry("followed");
    const first = (await claimEntry(entry.id, "w#1", TTL))!;
    const { advanced, next } = await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }], "w#2");
    expect(advanced).toEqual([entry.id]);
    const now = await lockOf(entry.id);
    expect(now).toMatchObject({ status: "STAGE_1", progress: 33, attempts: 1, lockedBy: "w#2" });
    // lockedAt travels as the column's exact ISO text (it goes back as the execution's start).
    expect(next).toEqual([{ id: entry.id, status: "STAGE_1", attempts: 1, lockedAt: now.lockedAt.toISOString(), previousHolder: null, cancelRequested: false }]);
    // The old token writes nothing any more; the new one advances, and the chain ends at COMPLETED.
    expect((await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }], "w#9")).advanced).toEqual([]);
    const second = await advanceEntries("w#2", [{ entry: next[0]!, to: "STAGE_2", progress: 66, result: null }], "w#3");
    const third = await advanceEntries("w#3", [{ entry: second.next[0]!, to: "COMPLETED", progress: 100, result: { done: true } }], "w#4");
    expect(third).toEqual({ advanced: [entry.id], next: [] });
    expect(await lockOf(entry.id)).toMatchObject({ status: "COMPLETED", progress: 100, attempts: 0, lockedBy: null, lockedAt: null });
    const runs = await db.pool.query(`SELECT "fromStatus", "toStatus", attempt, "startedAt" FROM "StageExecution" WHERE "entryId" = $1 ORDER BY "startedAt"`, [entry.id]);
    expect(runs.rows.map((r) => [r.fromStatus, r.toStatus, r.attempt])).toEqual([["CREATED", "STAGE_1", 1], ["STAGE_1", "STAGE_2", 1], ["STAGE_2", "COMPLETED", 1]]);
    // Each stage's execution starts at its own claim's lockedAt.
    expect(runs.rows[1].startedAt).toEqual(now.lockedAt);
  });

  it("does not claim an entry cancelled meanwhile, nor one whose next run is not due", async () => {
    const cancelled = await createEntry("cancelled meanwhile");
    const later = await createEntry("not due");
    const a = (await claimEntry(cancelled.id, "w#1", TTL))!;
    const b = (await claimEntry(later.id, "w#1", TTL))!;
    await db.pool.query(`UPDATE "Entry" SET "cancelRequestedAt" = now() WHERE id = $1`, [cancelled.id]);
    await db.pool.query(`UPDATE "Entry" SET "runAt" = now() + interval '1 hour' WHERE id = $1`, [later.id]);
    const { advanced, next } = await advanceEntries(
      "w#1",
      [a, b].map((entry) => ({ entry, to: "STAGE_1" as const, progress: 33, result: null })),
      "w#2",
    );
    expect(new Set(advanced)).toEqual(new Set([cancelled.id, later.id]));
    expect(next).toEqual([]);
    expect(await lockOf(cancelled.id)).toMatchObject({ status: "FAILED", lockedBy: null });
    expect(await lockOf(later.id)).toMatchObject({ status: "STAGE_1", lockedBy: null, attempts: 0 });
  });

  it("finds the next stage's claim again when the advance's answer was lost", async () => {
    const entry = await createEntry("answer lost, chained");
    const first = (await claimEntry(entry.id, "w#1", TTL))!;
    await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }], "w#2");
    const found = await heldBy("w#2", [entry.id]);
    expect(found).toEqual([{ id: entry.id, status: "STAGE_1", attempts: 1, lockedAt: (await lockOf(entry.id)).lockedAt.toISOString(), previousHolder: null, cancelRequested: false }]);
    expect(await heldBy("w#1", [entry.id])).toEqual([]);
  });
});
