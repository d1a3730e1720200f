import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "@/lib/server/migrate";
import { createTestDatabase } from "../helpers/db";
import { pgbouncerAvailable, startPgBouncer, type PgBouncer } from "../helpers/pgbouncer";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";
import { SseClient } from "../helpers/sse";
import { auditExecutions, reclaimsLogged, startWorkerProcess, type WorkerProcess } from "../helpers/workers";

// The app behind PgBouncer in transaction mode (stock settings), as managed PostgreSQL services
// deploy it: DATABASE_URL is the pooler. Without DIRECT_URL, LISTEN is deaf and the app must know
// it and poll instead; with DIRECT_URL pointing at PostgreSQL itself, it listens there.

const runPooler = pgbouncerAvailable();
const db = await createTestDatabase();
let bouncer: PgBouncer;
beforeAll(async () => {
  if (runPooler) bouncer = await startPgBouncer(db.url);
});
afterAll(async () => {
  await bouncer?.stop();
});

const count = async (condition: string) => (await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE ${condition}`)).rows[0].n as number;

describe.skipIf(!runPooler)("behind PgBouncer in transaction mode, without DIRECT_URL", () => {
  let server: TestServer;
  let worker: WorkerProcess;
  beforeAll(async () => {
    const env = { STAGE_DELAY_MS: "100", RATE_LIMIT_CREATES_PER_MINUTE: "0", INTERNAL_API_TOKEN: "a-token-for-the-pooler-test" };
    server = await startServer(bouncer.url, env);
    worker = startWorkerProcess(bouncer.url, env);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), worker?.stop()]);
  });

  it("serves the API as it does directly", async () => {
    const created = await api(server.url, "/api/entries", { method: "POST", json: { title: "pooled" } });
    expect(created).toMatchObject({ status: 201, body: { title: "pooled", status: "CREATED", progress: 0 } });
    const done = await waitFor(async () => {
      const { body } = await api(server.url, `/api/entries/${created.body.id}`);
      return body.status === "COMPLETED" ? body : null;
    });
    expect(done).toMatchObject({ progress: 100, lock: null, result: { message: "All stages completed" } });
    const list = await api(server.url, "/api/entries?limit=5");
    expect(list.body).toMatchObject({ total: 1, limit: 5, offset: 0, counts: { COMPLETED: 1 } });
    expect(list.body.entries[0]).toEqual(done);
    const events = await api(server.url, `/api/entries/${created.body.id}/events`);
    expect(events.body.events.map((e: any) => e.outcome)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect((await api(server.url, "/api/entries/00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await api(server.url, "/api/entries", { method: "POST", json: { title: "" } })).status).toBe(400);
    const patched = await api(server.url, `/api/entries/${created.body.id}`, {
      method: "PATCH",
      json: { status: "FAILED" },
      headers: { authorization: "Bearer a-token-for-the-pooler-test" },
    });
    expect(patched.status).toBe(409); // COMPLETED is final
  });

  it("finishes a burst of creates with no lock left and none reclaimed", async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => api(server.url, "/api/entries", { method: "POST", json: { title: `burst ${i}` } })));
    await waitFor(async () => (await count(`status <> 'COMPLETED'`)) === 0, 60_000, 100);
    const audit = await auditExecutions(db.pool);
    expect(audit).toMatchObject({ entries: 51, lockedRows: 0, stagesNotExactlyOnce: 0 });
    expect([...reclaimsLogged(server.output()), ...reclaimsLogged(worker.output())]).toEqual([]);
  });

  it("knows its LISTEN is deaf — readiness and one log line say so — and streams changes all the same", async () => {
    const ready = await waitFor(async () => {
      const { status, body } = await api(server.url, "/api/health/ready");
      return status === 200 && body.detail.liveUpdates === "polling" ? body : null;
    }, 10_000);
    expect(ready.ready).toBe(true); // a field, not a failure
    await waitFor(async () => worker.output().includes("LISTEN receives nothing"), 10_000);
    expect(worker.output().split("LISTEN receives nothing").length - 1).toBe(1);
    expect(server.output().split("LISTEN receives nothing").length - 1).toBe(2); // the web worker's and the live feed's

    const stream = await SseClient.connect(server.url);
    try {
      expect(stream.events[0]!.data).toMatchObject({ mode: "polling" });
      const { body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "streamed while deaf" } });
      const completed = await stream.next((e) => e.event === "entry" && e.data.id === body.id && e.data.status === "COMPLETED");
      console.log(`[pooler, deaf LISTEN] COMPLETED reached the stream ${completed.at - Date.parse(completed.data.updatedAt)} ms after the write`);
    } finally {
      stream.close();
    }
  });
});

describe.skipIf(!runPooler)("behind PgBouncer in transaction mode, with DIRECT_URL", () => {
  it("listens on the direct connection: notifications, not polling", async () => {
    const server = await startServer(bouncer.url, { STAGE_DELAY_MS: "100", DIRECT_URL: db.url });
    try {
      await waitFor(async () => (await api(server.url, "/api/health/ready")).body.detail.liveUpdates === "listening", 10_000);
      const stream = await SseClient.connect(server.url);
      try {
        expect(stream.events[0]!.data).toMatchObject({ mode: "listening" });
        const { body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "streamed from NOTIFY" } });
        const completed = await stream.next((e) => e.event === "entry" && e.data.id === body.id && e.data.status === "COMPLETED");
        console.log(`[pooler, DIRECT_URL] COMPLETED reached the stream ${completed.at - Date.parse(completed.data.updatedAt)} ms after the write`);
      } finally {
        stream.close();
      }
      expect(server.output()).not.toContain("LISTEN receives nothing");
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!runPooler)("a standalone worker behind PgBouncer with DIRECT_URL", () => {
  it("is woken by NOTIFY on the direct connection (its sweep a minute away)", async () => {
    const worker = startWorkerProcess(bouncer.url, { STAGE_DELAY_MS: "50", SWEEP_INTERVAL_MS: "60000", DIRECT_URL: db.url });
    try {
      await waitFor(async () => (await db.pool.query(`SELECT count(*)::int AS n FROM "Worker" WHERE "stoppedAt" IS NULL AND pid = $1`, [worker.pid])).rows[0].n === 1, 10_000);
      const { rows } = await db.pool.query(`INSERT INTO "Entry" (title) VALUES ('wake me') RETURNING id`);
      await waitFor(async () => (await db.pool.query(`SELECT status FROM "Entry" WHERE id = $1`, [rows[0].id])).rows[0].status === "COMPLETED", 20_000);
      expect(worker.output()).not.toContain("LISTEN receives nothing");
    } finally {
      await worker.stop();
    }
  });
});

describe.skipIf(!runPooler)("migrations through the pooler", () => {
  it("run side by side and leave no advisory lock behind on any server connection", async () => {
    const results = await Promise.all([migrate(bouncer.url), migrate(bouncer.url), migrate(bouncer.url)]);
    for (const r of results) expect(r.applied).toEqual([]);
    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    try {
      const { rows } = await direct.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`);
      expect(rows[0].n).toBe(0);
    } finally {
      await direct.end();
    }
  });
});
