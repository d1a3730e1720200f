import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";

// PATCH /api/entries/:id is internal: bearer token, legal transitions only, refused while a worker
// holds the row, optimistic concurrency through version/ETag/If-Match.

const TOKEN = "test-internal-token-0123456789";
const db = await createTestDatabase();
let server: TestServer; // no worker: entries stay where the test puts them
let serverWithoutToken: TestServer;

beforeAll(async () => {
  [server, serverWithoutToken] = await Promise.all([
    startServer(db.url, { WORKER_ENABLED: "false", INTERNAL_API_TOKEN: TOKEN }),
    startServer(db.url, { WORKER_ENABLED: "false" }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), serverWithoutToken?.stop()]);
});

const auth = { authorization: `Bearer ${TOKEN}` };
const create = async (title = "patch target") => (await api(server.url, "/api/entries", { method: "POST", json: { title } })).body;
const patch = (id: string, json: unknown, headers: Record<string, string> = auth) =>
  api(server.url, `/api/entries/${id}`, { method: "PATCH", json, headers });
const row = async (id: string) => (await db.pool.query(`SELECT * FROM "Entry" WHERE id = $1`, [id])).rows[0];

describe("authorization", () => {
  it("answers 403 explaining how to enable it when no token is configured", async () => {
    const entry = await create();
    const { status, body } = await api(serverWithoutToken.url, `/api/entries/${entry.id}`, {
      method: "PATCH",
      json: { status: "STAGE_1" },
      headers: auth,
    });
    expect(status).toBe(403);
    expect(body.error.message).toContain("INTERNAL_API_TOKEN");
    expect((await row(entry.id)).status).toBe("CREATED");
  });

  it.each([
    ["no header", {}],
    ["a wrong token", { authorization: "Bearer wrong-token-wrong-token" }],
    ["a token one character short", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ["another scheme", { authorization: `Basic ${TOKEN}` }],
  ])("answers 401 to %s and changes nothing", async (_name, headers) => {
    const entry = await create();
    const { status, body, headers: res } = await patch(entry.id, { status: "STAGE_1" }, headers);
    expect(status).toBe(401);
    expect(body.error.code).toBe("unauthorized");
    expect(res.get("www-authenticate")).toContain("Bearer");
    expect(await row(entry.id)).toMatchObject({ status: "CREATED", version: 0 });
  });

  it("accepts the right token", async () => {
    const entry = await create();
    const { status, body, headers } = await patch(entry.id, { status: "STAGE_1" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "STAGE_1", progress: 33, version: 1 });
    expect(headers.get("etag")).toBe('"v1"');
  });
});

describe("transitions", () => {
  it("walks every legal step and sets the matching progress", async () => {
    const entry = await create();
    for (const [status, progress] of [["STAGE_1", 33], ["STAGE_2", 66], ["COMPLETED", 100]] as const) {
      const { status: code, body } = await patch(entry.id, { status, progress });
      expect(code).toBe(200);
      expect(body).toMatchObject({ status, progress });
    }
    expect((await row(entry.id)).result.completedAt).toBeTruthy();
  });

  it("lets a non-terminal entry be failed, keeping its progress", async () => {
    const entry = await create();
    await patch(entry.id, { status: "STAGE_1" });
    const { body } = await patch(entry.id, { status: "FAILED" });
    expect(body).toMatchObject({ status: "FAILED", progress: 33, error: "Failed by an operator" });
  });

  it.each([
    ["CREATED", { status: "STAGE_2" }, "skipping a stage"],
    ["CREATED", { status: "COMPLETED" }, "jumping to the end"],
    ["STAGE_2", { status: "STAGE_1" }, "going backwards"],
    ["STAGE_2", { status: "CREATED" }, "going back to the start"],
    ["COMPLETED", { status: "FAILED" }, "leaving COMPLETED"],
    ["FAILED", { status: "CREATED" }, "leaving FAILED"],
    ["FAILED", { status: "STAGE_1" }, "reviving FAILED"],
    ["CREATED", { status: "STAGE_1", progress: 50 }, "progress not matching the status"],
    ["STAGE_1", { progress: 90 }, "progress alone, not matching"],
  ] as const)("refuses from %s %j (%s) with 409 and changes nothing", async (from, json, _why) => {
    const entry = await create();
    await db.pool.query(`UPDATE "Entry" SET status = $2, progress = $3 WHERE id = $1`, [
      entry.id,
      from,
      { CREATED: 0, STAGE_1: 33, STAGE_2: 66, COMPLETED: 100, FAILED: 33 }[from],
    ]);
    const before = await row(entry.id);
    const { status, body } = await patch(entry.id, json);
    expect(status).toBe(409);
    expect(body.error.code).toBe("conflict");
    expect(await row(entry.id)).toEqual(before);
  });
});

describe("locks and versions", () => {
  it("answers 409 while a worker holds the row, and accepts once its lock expired", async () => {
    const entry = await create();
    await db.pool.query(`UPDATE "Entry" SET "lockedBy" = 'some-worker', "lockedAt" = now() WHERE id = $1`, [entry.id]);
    const held = await patch(entry.id, { status: "FAILED" });
    expect(held.status).toBe(409);
    expect(held.body.error.message).toContain("some-worker");

    await db.pool.query(`UPDATE "Entry" SET "lockedAt" = now() - interval '1 hour' WHERE id = $1`, [entry.id]);
    const expired = await patch(entry.id, { status: "FAILED" });
    expect(expired.status).toBe(200);
    // The manual edit takes the row out of the stale worker's hands.
    expect(await row(entry.id)).toMatchObject({ lockedBy: null, lockedAt: null, status: "FAILED" });
  });

  it("serves the version as ETag, answers 304 to If-None-Match, 412 to a stale If-Match", async () => {
    const entry = await create();
    const first = await api(server.url, `/api/entries/${entry.id}`);
    expect(first.headers.get("etag")).toBe('"v0"');
    const unchanged = await fetch(`${server.url}/api/entries/${entry.id}`, { headers: { "if-none-match": '"v0"' } });
    expect(unchanged.status).toBe(304);

    const ok = await patch(entry.id, { status: "STAGE_1" }, { ...auth, "if-match": '"v0"' });
    expect(ok.status).toBe(200);
    const stale = await patch(entry.id, { status: "STAGE_2" }, { ...auth, "if-match": '"v0"' });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe("precondition_failed");
    expect(await row(entry.id)).toMatchObject({ status: "STAGE_1", version: 1 });
  });

  // A stress run with whatever timing comes: the worker usually holds the entry when the PATCHes
  // land. Both orders, made to happen on purpose, are in worker-claims.test.ts.
  it("never lets a PATCH racing a real worker overwrite it: each PATCH either applies or is refused", async () => {
    const racing = await startServer(db.url, { INTERNAL_API_TOKEN: TOKEN, STAGE_DELAY_MS: "30" });
    try {
      for (let round = 0; round < 15; round++) {
        const { body: entry } = await api(racing.url, "/api/entries", { method: "POST", json: { title: `race ${round}` } });
        const answers = await Promise.all(
          Array.from({ length: 4 }, () =>
            api(racing.url, `/api/entries/${entry.id}`, { method: "PATCH", json: { status: "FAILED" }, headers: auth }),
          ),
        );
        for (const a of answers) expect([200, 409]).toContain(a.status);
        const final = await waitFor(async () => {
          const r = await row(entry.id);
          return r.status === "COMPLETED" || r.status === "FAILED" ? r : null;
        }, 10_000, 20).catch(async (error: Error) => {
          // Say where it stopped, and what the server said, rather than only that it timed out.
          const stuck = await row(entry.id);
          throw new Error(`${error.message}: ${JSON.stringify({ answers: answers.map((a) => a.status), stuck })}\n${racing.output().slice(-3000)}`);
        });
        expect(final.lockedBy).toBeNull();
        const applied = answers.filter((a) => a.status === 200).length;
        if (applied > 0) {
          // A manual FAILED is final: the worker did not carry the entry on past it.
          expect(final.status).toBe("FAILED");
          expect(final.error).toBe("Failed by an operator");
        } else {
          expect(final.status).toBe("COMPLETED");
        }
        const successes = await db.pool.query(
          `SELECT "fromStatus" FROM "StageExecution" WHERE "entryId" = $1 AND outcome = 'SUCCEEDED' ORDER BY id`,
          [entry.id],
        );
        // Each stage the worker completed is recorded once and matches the entry's progress.
        expect(successes.rows.length).toBe(Math.floor(final.progress / 33));
      }
    } finally {
      await racing.stop();
    }
  });
});
