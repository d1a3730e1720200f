import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";
import { SseClient } from "../helpers/sse";

// Operating the app: filters and search, retry and cancel, stats, lock health and release, the
// live stream, change-only polling, health and metrics.

const db = await createTestDatabase();
const { advanceEntries } = await import("@/lib/server/worker/queries");
type ClaimedEntry = import("@/lib/server/worker/queries").ClaimedEntry;
let server: TestServer;

beforeAll(async () => {
  server = await startServer(db.url, { STAGE_DELAY_MS: "300", LOCK_TTL_MS: "3000", RETRY_BASE_MS: "50" });
});
afterAll(async () => {
  if (process.env.SHOW_SERVER_OUTPUT) console.log(server?.output());
  await server?.stop();
});

const create = async (title: string) => (await api(server.url, "/api/entries", { method: "POST", json: { title } })).body;
const get = async (id: string) => (await api(server.url, `/api/entries/${id}`)).body;
/** An entry put straight into the table in a given state, with no history. */
const insert = async (title: string, fields: Record<string, unknown>) => {
  const keys = Object.keys(fields);
  const { rows } = await db.pool.query(
    `INSERT INTO "Entry" (title${keys.map((k) => `, "${k}"`).join("")}) VALUES ($1${keys.map((_, i) => `, $${i + 2}`).join("")}) RETURNING id`,
    [title, ...Object.values(fields)],
  );
  return rows[0].id as string;
};
const until = (id: string, statuses: string[]) =>
  waitFor(async () => {
    const e = await get(id);
    return statuses.includes(e.status) ? e : null;
  }, 20_000);

describe("filters and search", () => {
  it("filters by status and searches titles case-insensitively, with exact totals", async () => {
    const a = await create("Invoice Alpha");
    const b = await create("invoice beta");
    await create("Report gamma");
    await until(a.id, ["COMPLETED"]);
    await until(b.id, ["COMPLETED"]);
    await db.pool.query(`UPDATE "Entry" SET status = 'FAILED', error = 'x' WHERE id = $1`, [b.id]);

    const search = await api(server.url, "/api/entries?q=INVOICE");
    expect(search.body.entries.map((e: any) => e.title).sort()).toEqual(["Invoice Alpha", "invoice beta"]);
    expect(search.body.total).toBe(2);

    const failed = await api(server.url, "/api/entries?status=FAILED&q=invoice");
    expect(failed.body.entries.map((e: any) => e.id)).toEqual([b.id]);
    expect(failed.body.total).toBe(1);

    const { rows } = await db.pool.query(`SELECT status, count(*)::int AS n FROM "Entry" GROUP BY status`);
    const counts = await api(server.url, "/api/entries?status=FAILED");
    for (const r of rows) expect(counts.body.counts[r.status]).toBe(r.n);
    expect(counts.body.total).toBe(rows.find((r) => r.status === "FAILED")?.n ?? 0);
  });

  it.each(["status=DONE", "status=failed", "q=%00%01", `q=${"x".repeat(201)}`, "updatedSince=yesterday", "cursor=bm9wZQ", "cursor=abc&offset=5"])(
    "rejects ?%s with 400",
    async (query) => {
      const { status, body } = await api(server.url, `/api/entries?${query}`);
      expect(status).toBe(400);
      expect(body.error.code).toBe("validation_error");
    },
  );
});

describe("retry and cancel", () => {
  it("retries a FAILED entry from where it failed, with attempts reset, and it completes", async () => {
    const e = { id: await insert("retry me", { status: "FAILED", progress: 33, error: "boom", attempts: 3 }) };
    const { status, body } = await api(server.url, `/api/entries/${e.id}/retry`, { method: "POST" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "STAGE_1", progress: 33, error: null });
    expect(body.attempts).toBeLessThanOrEqual(1); // 0, or 1 if a worker claimed it already
    const done = await until(e.id, ["COMPLETED"]);
    expect(done.progress).toBe(100);
  });

  it("answers 409 to a retry of an entry that is not FAILED, 404/400 to unknown or bad ids", async () => {
    const e = await create("not failed");
    expect((await api(server.url, `/api/entries/${e.id}/retry`, { method: "POST" })).status).toBe(409);
    expect((await api(server.url, `/api/entries/00000000-0000-4000-8000-000000000000/retry`, { method: "POST" })).status).toBe(404);
    expect((await api(server.url, `/api/entries/xyz/retry`, { method: "POST" })).status).toBe(400);
    expect((await api(server.url, `/api/entries/${e.id}/retry`)).status).toBe(405);
  });

  // The holder in these tests is the test itself, acting as a live worker mid-stage: the cancel
  // lands while the entry is held, for certain, and the holder decides when the stage ends.
  const HOLDER = "cancel-test-host:1:abcdef";
  const holdAsLiveWorker = async (title: string) => {
    await db.pool.query(`INSERT INTO "Worker" (id, hostname, pid) VALUES ($1, 'cancel-test-host', 1) ON CONFLICT (id) DO UPDATE SET "lastSeenAt" = now(), "stoppedAt" = NULL`, [HOLDER]);
    // Inserted already held (the server's own worker would claim a free one first).
    const id = await insert(title, { lockedBy: `${HOLDER}#1`, lockedAt: new Date(), attempts: 1 });
    const { rows } = await db.pool.query(`SELECT id, status, attempts, "lockedAt" FROM "Entry" WHERE id = $1`, [id]);
    return { ...rows[0], previousHolder: null, cancelRequested: false } as ClaimedEntry;
  };

  it("cancels an entry a worker is processing at its next stage boundary", async () => {
    const held = await holdAsLiveWorker("cancel me");
    const { status, body } = await api(server.url, `/api/entries/${held.id}/cancel`, { method: "POST" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "CREATED", lock: { holder: `${HOLDER}#1` } }); // still held: recorded, not yet applied
    expect(body.cancelRequestedAt).toBeTruthy();
    // The holder's stage ends: its work counts, and the entry stops there.
    expect(await advanceEntries(`${HOLDER}#1`, [{ entry: held, to: "STAGE_1", progress: 33, result: null }])).toEqual({ advanced: [held.id], next: [] });
    expect(await get(held.id)).toMatchObject({ status: "FAILED", error: "Cancelled", progress: 33, lock: null });
  });

  it("ends a cancelled entry whose holder stopped or died before its stage ended", async () => {
    const held = await holdAsLiveWorker("cancelled, then orphaned");
    await api(server.url, `/api/entries/${held.id}/cancel`, { method: "POST" });
    // The holder stops without finishing (its Worker row says so): the server's worker takes the
    // entry and ends it as Cancelled, without running the stage.
    await db.pool.query(`UPDATE "Worker" SET "stoppedAt" = now() WHERE id = $1`, [HOLDER]);
    const ended = await until(held.id, ["FAILED", "COMPLETED"]);
    expect(ended).toMatchObject({ status: "FAILED", error: "Cancelled", progress: 0, lock: null });
    const runs = await db.pool.query(`SELECT outcome, error FROM "StageExecution" WHERE "entryId" = $1`, [held.id]);
    expect(runs.rows).toEqual([{ outcome: "FAILED", error: "Cancelled" }]);
  });

  it("cancels a waiting entry at once, and answers 409 for a finished one", async () => {
    const done = await insert("finished", { status: "COMPLETED", progress: 100 });
    expect((await api(server.url, `/api/entries/${done}/cancel`, { method: "POST" })).status).toBe(409);
    const waiting = await insert("waiting", { status: "STAGE_1", progress: 33, runAt: new Date(Date.now() + 3_600_000) });
    const { status, body } = await api(server.url, `/api/entries/${waiting}/cancel`, { method: "POST" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "FAILED", error: "Cancelled", progress: 33 });
  });
});

describe("lock health and release", () => {
  it("shows who holds a lock and until when, refuses to release a fresh one, releases a stale one", async () => {
    const e = { id: await insert("locked", { status: "STAGE_1", progress: 33, lockedBy: "gone-host:1:abc", lockedAt: new Date() }) };
    const held = await get(e.id);
    expect(held.lock).toMatchObject({ holder: "gone-host:1:abc", expired: false });
    expect(new Date(held.lock.expiresAt).getTime() - new Date(held.lock.since).getTime()).toBe(3000);
    expect((await api(server.url, `/api/entries/${e.id}/release`, { method: "POST" })).status).toBe(409);

    await db.pool.query(`UPDATE "Entry" SET "lockedAt" = now() - interval '2.5 seconds' WHERE id = $1`, [e.id]);
    const released = await api(server.url, `/api/entries/${e.id}/release`, { method: "POST" });
    expect(released.status).toBe(200);
    // Free now, or already claimed again by the live worker the release woke up.
    expect(released.body.lock?.holder ?? null).not.toBe("gone-host:1:abc");
    await until(e.id, ["COMPLETED"]); // and a worker carries it on
  });

  it("counts a fresh lock as free once its holder's Worker row says it stopped, and never a live holder's", async () => {
    await db.pool.query(
      // (A worker that died silently counts as dead 10 s after its last beat; the killed-worker tests cover that.)
      `INSERT INTO "Worker" (id, hostname, pid, "stoppedAt") VALUES ('dead-host:1:aaaaaa', 'dead-host', 1, now()),
                                                                  ('live-host:2:bbbbbb', 'live-host', 2, NULL)`,
    );
    const later = new Date(Date.now() + 3_600_000); // not due, so no worker takes them meanwhile
    const dead = await insert("dead holder", { status: "STAGE_1", progress: 33, lockedBy: "dead-host:1:aaaaaa#3", lockedAt: new Date(), runAt: later });
    const live = await insert("live holder", { status: "STAGE_1", progress: 33, lockedBy: "live-host:2:bbbbbb#4", lockedAt: new Date(), runAt: later });
    // Lock health reads worker liveness at most a second old.
    const deadLock = await waitFor(async () => ((await get(dead)).lock?.holderAlive === false ? (await get(dead)).lock : null), 5000);
    expect(deadLock).toMatchObject({ holder: "dead-host:1:aaaaaa#3", holderAlive: false, expired: true });
    expect((await get(live)).lock).toMatchObject({ holder: "live-host:2:bbbbbb#4", holderAlive: true, expired: false });
    expect((await api(server.url, `/api/entries/${live}/release`, { method: "POST" })).status).toBe(409);
    const released = await api(server.url, `/api/entries/${dead}/release`, { method: "POST" });
    expect(released.status).toBe(200);
    expect(released.body.lock).toBeNull();
    await db.pool.query(`DELETE FROM "Entry" WHERE id = ANY($1::uuid[])`, [[dead, live]]);
  });

  it("flags an expired lock", async () => {
    const id = await insert("expired", { status: "STAGE_2", progress: 66, lockedBy: "old", lockedAt: new Date(Date.now() - 60_000), runAt: new Date(Date.now() + 3_600_000) });
    expect((await get(id)).lock).toMatchObject({ holder: "old", expired: true });
    await db.pool.query(`DELETE FROM "Entry" WHERE id = $1`, [id]);
  });
});

describe("stats, health and metrics", () => {
  it("reports counts per status and last-minute throughput", async () => {
    const e = await create("counted");
    await until(e.id, ["COMPLETED"]); // three stages finished within the minute, by this test
    const { status, body } = await api(server.url, "/api/entries/stats");
    expect(status).toBe(200);
    const { rows } = await db.pool.query(`SELECT status, count(*)::int AS n FROM "Entry" GROUP BY status`);
    for (const r of rows) expect(body.counts[r.status]).toBe(r.n);
    expect(body.total).toBe(rows.reduce((a, r) => a + r.n, 0));
    expect(body.lastMinute.stagesCompleted).toBeGreaterThanOrEqual(3);
    expect(body.lastMinute.entriesCompleted).toBeGreaterThanOrEqual(1);
    expect(body.lastMinute.perSecond).toBe(Math.round((body.lastMinute.stagesCompleted / 60) * 100) / 100);
  });

  it("answers live without the database and ready with it", async () => {
    expect((await api(server.url, "/api/health/live")).body).toEqual({ status: "ok" });
    const ready = await api(server.url, "/api/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: true, migrations: true, worker: true });
  });

  it("exposes Prometheus metrics matching what happened", async () => {
    // Start from a still table, so that only this test's entries move between the two scrapes.
    const still = async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status IN ('CREATED','STAGE_1','STAGE_2') AND "runAt" <= now()`)).rows[0].n === 0;
    await waitFor(still, 20_000);
    const before = await metricsOf(server.url);
    const ids = await Promise.all(["m1", "m2", "m3"].map(async (t) => (await create(t)).id));
    for (const id of ids) await until(id, ["COMPLETED"]);
    await waitFor(still, 20_000);
    const after = await metricsOf(server.url);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status = 'COMPLETED'`);
    expect(after['async_workflow_entries{status="COMPLETED"}']).toBe(rows[0].n);
    const succeeded = (m: Record<string, number>) =>
      ["STAGE_1", "STAGE_2", "COMPLETED"].reduce((a, s) => a + (m[`async_workflow_stage_attempts_total{stage="${s}",outcome="succeeded"}`] ?? 0), 0);
    expect(succeeded(after) - succeeded(before)).toBe(9);
    const queued = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status IN ('CREATED','STAGE_1','STAGE_2')`);
    expect(after["async_workflow_queue_depth"]).toBe(queued.rows[0].n);
    expect(after["async_workflow_oldest_waiting_seconds"]).toBe(0); // still: nothing due is waiting
    expect(Object.keys(after).some((k) => k.startsWith("async_workflow_stage_duration_seconds_bucket"))).toBe(true);
  });
});

async function metricsOf(base: string): Promise<Record<string, number>> {
  const res = await fetch(`${base}/api/metrics`);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return out;
}

describe("live push and change-only polling", () => {
  it("streams the stage changes of a new entry over SSE", async () => {
    const stream = await SseClient.connect(server.url);
    try {
      const e = await create("streamed");
      await stream.next((ev) => ev.event === "entry" && ev.data.id === e.id && ev.data.status === "COMPLETED");
      const statuses = stream.entries().filter((x) => x.id === e.id).map((x) => x.status);
      // The states it was seen in, in the order they happened, never going back (a read shows the
      // entry as it is then, so a state shorter than a read may be skipped, never reordered).
      const order = ["CREATED", "STAGE_1", "STAGE_2", "COMPLETED"];
      const ranks = statuses.map((x) => order.indexOf(x));
      expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
      expect(statuses.at(-1)).toBe("COMPLETED");
      const ids = stream.events.filter((ev) => ev.event === "entry").map((ev) => ev.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      stream.close();
    }
  });

  it("delivers to every subscriber, including changes written by another process", async () => {
    const [a, b] = await Promise.all([SseClient.connect(server.url), SseClient.connect(server.url)]);
    try {
      // Written behind the app's back, as a standalone worker or an operator's SQL would.
      const id = await insert("from elsewhere", { status: "STAGE_2", progress: 66, runAt: new Date(Date.now() + 3_600_000) });
      await db.pool.query(`UPDATE "Entry" SET status = 'COMPLETED', progress = 100 WHERE id = $1`, [id]);
      for (const client of [a, b]) {
        await client.next((ev) => ev.event === "entry" && ev.data.id === id && ev.data.status === "COMPLETED");
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it("returns only what changed since a moment, oldest change first, page by page", async () => {
    // Two entries whose last changes are set a day ahead: nothing else in the table changed later.
    const base = Date.now() + 86_400_000;
    const at = (ms: number) => new Date(base + ms).toISOString();
    const later = { runAt: new Date(base) }; // not due, so no worker touches them
    const a = await insert("changed first", later);
    const b = await insert("changed second", later);
    await db.pool.query(`UPDATE "Entry" SET "updatedAt" = $2 WHERE id = $1`, [a, at(1000)]);
    await db.pool.query(`UPDATE "Entry" SET "updatedAt" = $2 WHERE id = $1`, [b, at(2000)]);
    const since = async (iso: string, limit = 50) =>
      (await api(server.url, `/api/entries?updatedSince=${encodeURIComponent(iso)}&limit=${limit}`)).body;

    const both = await since(at(0));
    expect(both.entries.map((e: any) => e.id)).toEqual([a, b]);
    expect(both).toMatchObject({ nextUpdatedSince: at(2000), more: false });
    expect((await since(at(1000))).entries.map((e: any) => e.id)).toEqual([b]); // strictly later only
    expect((await since(at(2000))).entries).toEqual([]); // nothing moved since

    const page1 = await since(at(0), 1);
    expect(page1.entries.map((e: any) => e.id)).toEqual([a]);
    expect(page1).toMatchObject({ more: true, nextUpdatedSince: at(1000) });
    expect((await since(page1.nextUpdatedSince, 1)).entries.map((e: any) => e.id)).toEqual([b]);
    await db.pool.query(`DELETE FROM "Entry" WHERE id = ANY($1::uuid[])`, [[a, b]]);
  });

  it("answers an unchanged page with 304 to If-None-Match", async () => {
    const first = await fetch(`${server.url}/api/entries?status=COMPLETED&limit=5`);
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^W\/"/);
    const second = await fetch(`${server.url}/api/entries?status=COMPLETED&limit=5`, { headers: { "if-none-match": etag } });
    expect(second.status).toBe(304);
  });
});
