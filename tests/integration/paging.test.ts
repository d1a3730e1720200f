import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, type TestServer } from "../helpers/server";
import { insertBacklog } from "../helpers/workers";

// What the speed-ups rely on: keyset pages, exact totals from kept counts, ETags, batched claims.

const db = await createTestDatabase();
let server: TestServer;
const { claimEntries } = await import("@/lib/server/worker/queries");

beforeAll(async () => {
  // Sessions in a zone far from UTC (+13:45): the API's timestamps must come out in UTC all the same.
  await db.pool.query(`ALTER DATABASE ${new URL(db.url).pathname.slice(1)} SET TimeZone = 'Pacific/Chatham'`);
  server = await startServer(db.url, { WORKER_ENABLED: "false", RATE_LIMIT_CREATES_PER_MINUTE: "0" });
});
afterAll(() => server?.stop());

describe("cursor pages", () => {
  it("are complete and non-overlapping while entries are being created", async () => {
    await insertBacklog(db.pool, 250, "paged");
    const before = new Set((await db.pool.query(`SELECT id FROM "Entry"`)).rows.map((r) => r.id));
    const seen: string[] = [];
    let cursor: string | null = null;
    let creating = true;
    const creator = (async () => {
      for (let i = 0; creating; i++) await api(server.url, "/api/entries", { method: "POST", json: { title: `during ${i}` } });
    })();
    let pages = 0;
    do {
      const res: any = await api(server.url, `/api/entries?limit=37${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.entries.map((e: any) => e.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    creating = false;
    await creator;
    expect(new Set(seen).size).toBe(seen.length); // no entry twice
    for (const id of before) expect(seen).toContain(id); // none of the existing ones missed
  });

  it("follows the (createdAt, id) order exactly, ties included", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    // 30 entries sharing one createdAt: only the id breaks the tie.
    await db.pool.query(`INSERT INTO "Entry" (title, "createdAt") SELECT 'tie ' || g, '2026-01-01T00:00:00Z' FROM generate_series(1, 30) g`);
    const expected = (await db.pool.query(`SELECT id FROM "Entry" ORDER BY "createdAt" DESC, id DESC`)).rows.map((r) => r.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api(server.url, `/api/entries?limit=7${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...res.body.entries.map((e: any) => e.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(expected);
  });
});

describe("exact totals without counting", () => {
  it("match count(*) per status after mixed creates, updates, failures, retries and deletes", async () => {
    await insertBacklog(db.pool, 120, "mixed");
    for (let i = 0; i < 15; i++) await api(server.url, "/api/entries", { method: "POST", json: { title: `api ${i}` } });
    await db.pool.query(`UPDATE "Entry" SET status = 'STAGE_1', progress = 33 WHERE title LIKE 'mixed 1%'`);
    await db.pool.query(`UPDATE "Entry" SET status = 'FAILED', error = 'x' WHERE title LIKE 'mixed 2%'`);
    await db.pool.query(`UPDATE "Entry" SET status = 'COMPLETED', progress = 100 WHERE title LIKE 'api%'`);
    const failed = (await db.pool.query(`SELECT id FROM "Entry" WHERE status = 'FAILED' LIMIT 3`)).rows;
    for (const { id } of failed) expect((await api(server.url, `/api/entries/${id}/retry`, { method: "POST" })).status).toBe(200);
    await db.pool.query(`DELETE FROM "Entry" WHERE title LIKE 'mixed 3%'`);
    // A statement that changes rows without changing their status must change nothing here.
    await db.pool.query(`UPDATE "Entry" SET progress = progress`);

    const actual = await db.pool.query(`SELECT status, count(*)::int AS n FROM "Entry" GROUP BY status`);
    const { body } = await api(server.url, "/api/entries?limit=1");
    const all = actual.rows.reduce((a, r) => a + r.n, 0);
    expect(body.total).toBe(all);
    for (const status of ["CREATED", "STAGE_1", "STAGE_2", "COMPLETED", "FAILED"]) {
      expect(body.counts[status]).toBe(actual.rows.find((r) => r.status === status)?.n ?? 0);
      const filtered = await api(server.url, `/api/entries?limit=1&status=${status}`);
      expect(filtered.body.total).toBe(body.counts[status]);
    }
  });
});

describe("ETags", () => {
  it("answer 304 while a page is unchanged and change when any visible field changes", async () => {
    const first = await fetch(`${server.url}/api/entries?limit=5`);
    const etag = first.headers.get("etag")!;
    const page = await first.json();
    expect((await fetch(`${server.url}/api/entries?limit=5`, { headers: { "if-none-match": etag } })).status).toBe(304);

    const id = page.entries[0].id;
    for (const change of [`progress = progress + 1`, `title = title || '!'`, `"lockedBy" = 'w', "lockedAt" = now()`, `error = 'e'`]) {
      const before = (await fetch(`${server.url}/api/entries?limit=5`)).headers.get("etag")!;
      await db.pool.query(`UPDATE "Entry" SET ${change} WHERE id = $1`, [id]);
      const after = await fetch(`${server.url}/api/entries?limit=5`, { headers: { "if-none-match": before } });
      expect(after.status).toBe(200);
      expect(after.headers.get("etag")).not.toBe(before);
    }
  });
});

describe("batched claims", () => {
  it("never hand the same entry to two claimers, however many race", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    await insertBacklog(db.pool, 600, "claim");
    const batches = await Promise.all(Array.from({ length: 12 }, (_, i) => claimEntries(`claimer-${i}`, 60_000, 80)));
    const ids = batches.flat().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(600); // 12 × 80 ≥ 600: everything was taken, once
    const { rows } = await db.pool.query(`SELECT "lockedBy", count(*)::int AS n FROM "Entry" GROUP BY 1`);
    for (const r of rows) expect(batches[Number(r.lockedBy.split("-")[1])]!.length).toBe(r.n);
  });
});

describe("the list's rows, read as the JSON text they are sent as", () => {
  it("give every timestamp exactly as pg's Date parsing would, in any session time zone", async () => {
    const { isoTextSql } = await import("@/lib/server/entries/columns");
    const client = await db.pool.connect();
    try {
      for (const zone of ["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "America/Los_Angeles"]) {
        await client.query(`SET TimeZone = '${zone}'`);
        const { rows } = await client.query<{ text: string; parsed: Date }>(
          `SELECT ${isoTextSql("t")} AS text, t AS parsed FROM (
             SELECT (timestamptz '2000-01-01' + random() * interval '60 years')::timestamptz(3) AS t FROM generate_series(1, 300)
             UNION ALL SELECT (timestamptz '2026-03-29 01:59:59.999+00' + random() * interval '3 hours')::timestamptz(3) FROM generate_series(1, 100)
             UNION ALL SELECT unnest(ARRAY['0999-12-31 23:59:59.5+00', '1970-01-01 00:00:00+00', '2026-11-29 04:00:00.12+00',
                                           '9999-12-31 23:59:59.999+00']::timestamptz(3)[])
           ) s`,
        );
        for (const { text, parsed } of rows) expect([zone, text]).toEqual([zone, parsed.toISOString()]);
      }
    } finally {
      await client.query("RESET TimeZone");
      client.release();
    }
  });

  it("answer each entry exactly as GET /api/entries/:id does", async () => {
    await db.pool.query(`TRUNCATE "Entry" CASCADE`);
    await insertBacklog(db.pool, 6, "same");
    const ids = (await db.pool.query(`SELECT id FROM "Entry" ORDER BY title`)).rows.map((r) => r.id as string);
    await db.pool.query(`UPDATE "Entry" SET "lockedBy" = 'w-live', "lockedAt" = now(), attempts = 2 WHERE id = $1`, [ids[0]]);
    await db.pool.query(`UPDATE "Entry" SET "lockedBy" = 'w-gone', "lockedAt" = now() - interval '1 hour' WHERE id = $1`, [ids[1]]);
    await db.pool.query(
      `UPDATE "Entry" SET status = 'COMPLETED', progress = 100, result = '{"completedAt":"2026-01-01T00:00:00.000Z","n":[1,{"a":null}]}' WHERE id = $1`,
      [ids[2]],
    );
    await db.pool.query(`UPDATE "Entry" SET status = 'FAILED', error = 'Stage 2 failed: "quoted" \\ text', "cancelRequestedAt" = now() WHERE id = $1`, [ids[3]]);
    await db.pool.query(`UPDATE "Entry" SET "createdAt" = '2026-05-05T05:05:05Z', "runAt" = now() + interval '5 minutes' WHERE id = $1`, [ids[4]]);

    const list = await api(server.url, "/api/entries?limit=50");
    expect(list.body.entries).toHaveLength(6);
    for (const entry of list.body.entries) {
      const single = await api(server.url, `/api/entries/${entry.id}`);
      expect(entry).toEqual(single.body);
    }
    expect(list.body.entries.find((e: any) => e.id === ids[0]).lock).toMatchObject({ holder: "w-live", expired: false });
    expect(list.body.entries.find((e: any) => e.id === ids[1]).lock).toMatchObject({ holder: "w-gone", expired: true });
  });
});
