import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";

// The spec's lockedBy/lockedAt rules, exercised against real PostgreSQL with many connections.

const db = await createTestDatabase();
const { createEntry } = await import("@/lib/server/entries/create");
const { claimEntry, advanceEntries, failStage, recordedBy } = await import("@/lib/server/worker/queries");

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

    const advanced = await advanceEntries("slow-worker", [{ entry: slow, to: "STAGE_1", progress: 33, result: null }]);
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
    expect(await advanceEntries("holder", [{ entry: claimed, to: "STAGE_1", progress: 33, result: null }])).toEqual([entry.id]);
    const { rows } = await db.pool.query(`SELECT status, progress, "lockedBy", "lockedAt" FROM "Entry" WHERE id = $1`, [entry.id]);
    expect(rows[0]).toEqual({ status: "STAGE_1", progress: 33, lockedBy: null, lockedAt: null });
  });

  it("can tell afterwards whether a claim's write landed (for a write whose answer was lost)", async () => {
    const entry = await createEntry("answer lost");
    const first = (await claimEntry(entry.id, "w#1", TTL))!;
    expect(await recordedBy("w#1", [first])).toEqual(new Set());
    expect(await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }])).toEqual([entry.id]);
    // Repeating the write changes nothing and reports nothing; the record says it landed.
    expect(await advanceEntries("w#1", [{ entry: first, to: "STAGE_1", progress: 33, result: null }])).toEqual([]);
    expect(await recordedBy("w#1", [first])).toEqual(new Set([entry.id]));
    // The same worker's next claim of the entry is another claim.
    const second = (await claimEntry(entry.id, "w#2", TTL))!;
    expect(await recordedBy("w#2", [second])).toEqual(new Set());
    const { rows } = await db.pool.query(`SELECT "workerId" FROM "StageExecution" WHERE "entryId" = $1`, [entry.id]);
    expect(rows).toEqual([{ workerId: "w" }]);
  });
});
