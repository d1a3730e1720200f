import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, requestFrom, startServer, type TestServer } from "../helpers/server";

// Idempotency-Key on creates, retries and cancels: one piece of work per key, whatever arrives
// at once, after a restart, or from whom; the first answer kept for 24 hours.

const db = await createTestDatabase();
let server: TestServer;
const env = { WORKER_ENABLED: "false", RATE_LIMIT_CREATES_PER_MINUTE: "0" };
beforeAll(async () => {
  server = await startServer(db.url, env);
});
afterAll(() => server?.stop());

const create = (title: string, key?: string) =>
  api(server.url, "/api/entries", { method: "POST", json: { title }, headers: key === undefined ? {} : { "idempotency-key": key } });
const entriesTitled = async (title: string) => (await db.pool.query(`SELECT id FROM "Entry" WHERE title = $1`, [title])).rows.map((r) => r.id);

describe("Idempotency-Key on POST /api/entries", () => {
  it("makes exactly one entry of twenty requests sent at once with one key, and gives all of them its answer", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => create("twenty at once", "key-twenty-at-once")));
    expect(await entriesTitled("twenty at once")).toHaveLength(1);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([201]));
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
  });

  it("answers a repeat with the kept answer after the server restarts, and creates nothing", async () => {
    const first = await create("before the restart", "key-restart");
    await server.stop();
    server = await startServer(db.url, env, server.port);
    const again = await create("before the restart", "key-restart");
    expect(again).toMatchObject({ status: 201, body: first.body });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await entriesTitled("before the restart")).toHaveLength(1);
  });

  it("refuses the same key with a different body (422), creating nothing", async () => {
    await create("the first body", "key-reused");
    const other = await create("another body", "key-reused");
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe("idempotency_key_reused");
    expect(await entriesTitled("another body")).toEqual([]);
  });

  it("frees a key once it expires, and prunes expired keys", async () => {
    await create("kept a day", "key-expiring");
    await db.pool.query(`UPDATE "IdempotencyKey" SET "expiresAt" = now() - interval '1 second' WHERE key = 'key-expiring'`);
    const fresh = await create("after it expired", "key-expiring");
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get("idempotent-replayed")).toBeNull();
    expect(await entriesTitled("after it expired")).toHaveLength(1);

    const { pruneIdempotencyKeys } = await import("@/lib/server/idempotency");
    await db.pool.query(`UPDATE "IdempotencyKey" SET "expiresAt" = now() - interval '1 second' WHERE key = 'key-reused'`);
    expect(await pruneIdempotencyKeys()).toBe(1);
    expect((await db.pool.query(`SELECT key FROM "IdempotencyKey" WHERE key = 'key-reused'`)).rows).toEqual([]);
  });

  it.each([
    ["empty", ""],
    ["too long", "k".repeat(256)],
    ["not ASCII", "clé"],
  ])("answers 400 to a key that is %s, creating nothing", async (_case, key) => {
    const answer = await create(`bad key ${key.length}`, key);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("validation_error");
    expect(await entriesTitled(`bad key ${key.length}`)).toEqual([]);
  });

  it("scopes keys per client: the same key from two clients is two requests", async () => {
    const send = (from: string) =>
      requestFrom(`${server.url}/api/entries`, from, { method: "POST", json: { title: `from ${from}` }, headers: { "idempotency-key": "shared-key" } });
    const [a, b] = [await send("127.0.0.2"), await send("127.0.0.3")];
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it("makes a repeat wait for a first request still at work, and answers 409 if it waits too long", async () => {
    // The test plays a first request from this client that has claimed the key and not finished.
    const first = await db.pool.connect();
    try {
      await first.query("BEGIN");
      await first.query(
        `INSERT INTO "IdempotencyKey" (scope, key, endpoint, fingerprint, "responseStatus", "responseBody", "expiresAt")
         VALUES ('127.0.0.1', 'key-in-flight', 'POST /api/entries', 'x', 0, 'null', now() + interval '1 day')`,
      );
      const repeat = await create("in flight", "key-in-flight");
      expect(repeat.status).toBe(409);
      expect(repeat.body.error.message).toMatch(/still in progress/);
    } finally {
      await first.query("ROLLBACK");
      first.release();
    }
    // The first one gave up: the key is free, and the next request does the work.
    expect((await create("in flight", "key-in-flight")).status).toBe(201);
  });
});

describe("Idempotency-Key on retry and cancel", () => {
  it("answers a repeated cancel with the first answer rather than a 409", async () => {
    const { body: entry } = await create("cancel me twice");
    const cancel = (key?: string) =>
      api(server.url, `/api/entries/${entry.id}/cancel`, { method: "POST", headers: key ? { "idempotency-key": key } : {} });
    const first = await cancel("key-cancel");
    expect(first).toMatchObject({ status: 200, body: { status: "FAILED", error: "Cancelled" } });
    const repeat = await cancel("key-cancel");
    expect(repeat).toMatchObject({ status: 200, body: first.body });
    expect(repeat.headers.get("idempotent-replayed")).toBe("true");
    expect((await cancel()).status).toBe(409); // without the key it is a new request, and the entry is finished

    // A kept 409 is replayed too: the same request gets the same answer.
    const refused = await api(server.url, `/api/entries/${entry.id}/cancel`, { method: "POST", headers: { "idempotency-key": "key-cancel-refused" } });
    const refusedAgain = await api(server.url, `/api/entries/${entry.id}/cancel`, { method: "POST", headers: { "idempotency-key": "key-cancel-refused" } });
    expect([refused.status, refusedAgain.status]).toEqual([409, 409]);
    expect(refusedAgain.headers.get("idempotent-replayed")).toBe("true");
  });

  it("retries a failed entry once per key", async () => {
    const { body: entry } = await create("retry me once");
    await db.pool.query(`UPDATE "Entry" SET status = 'FAILED', error = 'boom' WHERE id = $1`, [entry.id]);
    const retry = () => api(server.url, `/api/entries/${entry.id}/retry`, { method: "POST", headers: { "idempotency-key": "key-retry" } });
    const [a, b] = await Promise.all([retry(), retry()]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toEqual(b.body);
    const version = (await db.pool.query(`SELECT version FROM "Entry" WHERE id = $1`, [entry.id])).rows[0].version;
    expect(version).toBe(1); // one retry's write
  });
});
