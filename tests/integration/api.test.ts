import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";

// The entries API over real HTTP against a production build and a real PostgreSQL.

const db = await createTestDatabase();
let server: TestServer;

beforeAll(async () => {
  server = await startServer(db.url, { STAGE_DELAY_MS: "150" });
});
afterAll(() => server?.stop());

const countEntries = async () => Number((await db.pool.query(`SELECT count(*) FROM "Entry"`)).rows[0].count);
const snapshot = async () => (await db.pool.query(`SELECT * FROM "Entry" ORDER BY id`)).rows;

function expectErrorShape(body: any) {
  expect(body).toEqual({ error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }) });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(js|ts):\d+|SELECT|prisma/i);
}

describe("POST /api/entries", () => {
  it("creates an entry with status CREATED and progress 0", async () => {
    const { status, body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "  My workflow entry  " } });
    expect(status).toBe(201);
    expect(body).toMatchObject({ title: "My workflow entry", status: "CREATED", progress: 0, lockedBy: null, result: null });
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(body.createdAt).getTime()).not.toBeNaN();
  });

  const bad: [string, RequestInit & { json?: unknown }, number][] = [
    ["missing title", { json: {} }, 400],
    ["empty title", { json: { title: "" } }, 400],
    ["whitespace title", { json: { title: "   \t " } }, 400],
    ["overlong title", { json: { title: "x".repeat(201) } }, 400],
    ["title not a string", { json: { title: 42 } }, 400],
    ["title null", { json: { title: null } }, 400],
    ["control characters", { json: { title: "a\u0000b" } }, 400],
    ["unknown field", { json: { title: "ok", status: "COMPLETED" } }, 400],
    ["body is an array", { json: [{ title: "ok" }] }, 400],
    ["body is a string", { json: "ok" }, 400],
    ["non-JSON body", { body: "{title: nope", headers: { "content-type": "application/json" } }, 400],
    ["empty body", { body: "", headers: { "content-type": "application/json" } }, 400],
    ["wrong content type", { body: JSON.stringify({ title: "ok" }), headers: { "content-type": "text/plain" } }, 415],
    ["no content type", { body: JSON.stringify({ title: "ok" }) }, 415],
    ["form body", { body: "title=ok", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415],
    ["body over 16 KiB", { json: { title: "x".repeat(20_000) } }, 413],
  ];
  it.each(bad)("rejects %s with a JSON error and creates nothing", async (_name, init, expected) => {
    const before = await countEntries();
    const { status, body } = await api(server.url, "/api/entries", { method: "POST", ...init });
    expect(status).toBe(expected);
    expectErrorShape(body);
    expect(await countEntries()).toBe(before);
  });

  it("accepts a title of exactly 200 characters", async () => {
    const { status, body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "y".repeat(200) } });
    expect(status).toBe(201);
    expect(body.title).toHaveLength(200);
  });
});

describe("GET /api/entries", () => {
  it("lists newest first with total, limit and offset", async () => {
    for (const title of ["first", "second", "third"]) {
      await api(server.url, "/api/entries", { method: "POST", json: { title } });
    }
    const { status, body } = await api(server.url, "/api/entries?limit=2&offset=0");
    expect(status).toBe(200);
    expect(body.limit).toBe(2);
    expect(body.offset).toBe(0);
    expect(body.total).toBe(await countEntries());
    expect(body.entries.map((e: any) => e.title)).toEqual(["third", "second"]);
    const next = await api(server.url, "/api/entries?limit=2&offset=1");
    expect(next.body.entries[0].title).toBe("second");
  });

  it("defaults to limit 50 and offset 0", async () => {
    const { body } = await api(server.url, "/api/entries");
    expect(body).toMatchObject({ limit: 50, offset: 0 });
  });

  it.each([
    "limit=0",
    "limit=101",
    "limit=-1",
    "limit=abc",
    "limit=1.5",
    "limit=1e2",
    "limit=",
    "offset=-5",
    "offset=x",
    "limit=5&limit=6",
  ])("rejects ?%s with 400", async (query) => {
    const { status, body } = await api(server.url, `/api/entries?${query}`);
    expect(status).toBe(400);
    expectErrorShape(body);
  });
});

describe("GET /api/entries/:id", () => {
  it("returns the entry", async () => {
    const created = await api(server.url, "/api/entries", { method: "POST", json: { title: "one" } });
    const { status, body } = await api(server.url, `/api/entries/${created.body.id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: created.body.id, title: "one" });
  });

  it("answers 404 for an unknown id and 400 for a malformed one", async () => {
    const missing = await api(server.url, "/api/entries/00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
    expectErrorShape(missing.body);
    const malformed = await api(server.url, "/api/entries/not-a-uuid");
    expect(malformed.status).toBe(400);
    expectErrorShape(malformed.body);
  });
});

describe("methods and paths the API does not have", () => {
  it.each([
    ["PUT", "/api/entries", "GET, POST"],
    ["DELETE", "/api/entries", "GET, POST"],
    ["PATCH", "/api/entries", "GET, POST"],
    ["POST", "/api/entries/00000000-0000-4000-8000-000000000000", "GET, PATCH"],
    ["DELETE", "/api/entries/00000000-0000-4000-8000-000000000000", "GET, PATCH"],
    ["GET", "/api/entries/00000000-0000-4000-8000-000000000000/retry", "POST"],
    ["PUT", "/api/entries/00000000-0000-4000-8000-000000000000/events", "GET"],
  ])("%s %s → 405 with Allow: %s, in the error envelope", async (method, path, allow) => {
    const { status, body, headers } = await api(server.url, path, { method });
    expect(status).toBe(405);
    expect(headers.get("allow")).toBe(allow);
    expectErrorShape(body);
  });

  it("answers a path with broken percent-encoding with 400 JSON (Next.js alone would answer 500)", async () => {
    for (const path of ["/api/entries/%E0%A4%A", "/api/entries/%ED%A0%80/events"]) {
      const { status, body } = await api(server.url, path);
      expect(status).toBe(400);
      expectErrorShape(body);
    }
  });

  it("answers an unknown /api path with 404 JSON", async () => {
    const { status, body } = await api(server.url, "/api/nothing/here");
    expect(status).toBe(404);
    expectErrorShape(body);
  });
});

describe("the worker, observed through the API", () => {
  it("moves a new entry CREATED → STAGE_1 → STAGE_2 → COMPLETED, one recorded stage execution each", async () => {
    const created = await api(server.url, "/api/entries", { method: "POST", json: { title: "lifecycle" } });
    expect(created.body).toMatchObject({ status: "CREATED", progress: 0 });
    const final = await waitFor(async () => {
      const { body } = await api(server.url, `/api/entries/${created.body.id}`);
      return body.status === "COMPLETED" || body.status === "FAILED" ? body : null;
    }, 20_000);
    expect(final).toMatchObject({ status: "COMPLETED", progress: 100, lockedBy: null, lockedAt: null, lock: null });
    expect(new Date(final.result.completedAt).getTime()).toBeGreaterThan(new Date(final.createdAt).getTime());

    // The history, as recorded in the same statements that moved the entry: every stage once, in order.
    const { status, body } = await api(server.url, `/api/entries/${created.body.id}/events`);
    expect(status).toBe(200);
    expect(body.events.map((e: any) => [e.fromStatus, e.toStatus, e.outcome, e.attempt])).toEqual([
      ["CREATED", "STAGE_1", "SUCCEEDED", 1],
      ["STAGE_1", "STAGE_2", "SUCCEEDED", 1],
      ["STAGE_2", "COMPLETED", "SUCCEEDED", 1],
    ]);
    for (const [i, e] of body.events.entries()) {
      expect(e.workerId).toMatch(/^.+:\d+:[0-9a-f]{6}$/);
      expect(new Date(e.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(e.startedAt).getTime());
      if (i > 0) expect(new Date(e.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(body.events[i - 1].finishedAt).getTime());
    }
  });

  it("answers 404 and 400 for the events of an unknown or malformed id", async () => {
    expect((await api(server.url, "/api/entries/00000000-0000-4000-8000-000000000000/events")).status).toBe(404);
    expect((await api(server.url, "/api/entries/nope/events")).status).toBe(400);
  });
});
