import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, waitFor, type TestServer } from "../helpers/server";
import { SseClient } from "../helpers/sse";
import { insertBacklog } from "../helpers/workers";

// The live stream under a flood of changes, and with a transaction that commits late. Each client
// gets each entry version at most once, is told to refetch (resync) rather than sent thousands of
// stale entries, and never stops receiving new changes.

const db = await createTestDatabase();
let server: TestServer;
beforeAll(async () => {
  server = await startServer(db.url, { STAGE_DELAY_MS: "0", RATE_LIMIT_CREATES_PER_MINUTE: "0" });
});
afterAll(async () => {
  if (process.env.SHOW_SERVER_OUTPUT) console.log(server?.output());
  await server?.stop();
});

const versionsSentTwice = (client: SseClient) => {
  const ids = client.events.filter((e) => e.event === "entry").map((e) => e.id);
  return ids.filter((id, i) => ids.indexOf(id) !== i);
};
const completedEvent = (client: SseClient, id: string) =>
  client.next((e) => e.event === "entry" && e.data.id === id && e.data.status === "COMPLETED");

describe("after a flood of changes", () => {
  it("keeps delivering new changes, never sends a version twice, and a new client gets none of the flood", { timeout: 120_000 }, async () => {
    const watching = await Promise.all([1, 2, 3].map(() => SseClient.connect(server.url)));
    try {
      await insertBacklog(db.pool, 5000, "flood");
      await waitFor(async () => {
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE status <> 'COMPLETED'`);
        return rows[0].n === 0;
      }, 90_000, 200);
      const floodEvents = watching.map((c) => c.events.length);

      const latecomer = await SseClient.connect(server.url);
      try {
        const { body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "after the flood" } });
        const arrivals = await Promise.all([...watching, latecomer].map((c) => completedEvent(c, body.id)));
        const lag = arrivals.map((e) => e.at - Date.parse(e.data.updatedAt));
        console.log(`[flood] 5000 entries; events per watching client ${floodEvents.join(", ")}; the new entry's COMPLETED arrived ${lag.join(", ")} ms after its write`);

        for (const client of watching) {
          expect(versionsSentTwice(client)).toEqual([]);
          // Too much changed at once to send: each was told to refetch instead.
          expect(client.events.some((e) => e.event === "resync")).toBe(true);
        }
        expect(latecomer.entries().map((e) => e.id)).toEqual(latecomer.entries().map(() => body.id));
        expect(versionsSentTwice(latecomer)).toEqual([]);
      } finally {
        latecomer.close();
      }
    } finally {
      for (const c of watching) c.close();
    }
  });
});

describe("a transaction that commits late", () => {
  it("is still delivered, though changes committed after it started were sent first", async () => {
    const stream = await SseClient.connect(server.url);
    const late = await db.pool.connect();
    try {
      const { rows } = await db.pool.query(`INSERT INTO "Entry" (title, status, progress) VALUES ('late', 'COMPLETED', 100) RETURNING id`);
      await stream.next((e) => e.event === "entry" && e.data.id === rows[0].id);
      // A write whose transaction began long ago (its updatedAt an hour old) and is still open…
      await late.query("BEGIN");
      await late.query(`UPDATE "Entry" SET title = 'late, renamed', "updatedAt" = now() - interval '1 hour' WHERE id = $1`, [rows[0].id]);
      // …while other changes commit and are streamed…
      const { body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "meanwhile" } });
      await completedEvent(stream, body.id);
      // …then it commits.
      await late.query("COMMIT");
      const renamed = await stream.next((e) => e.event === "entry" && e.data.id === rows[0].id && e.data.title === "late, renamed");
      expect(renamed.data.updatedAt < body.updatedAt).toBe(true);
    } finally {
      late.release();
      stream.close();
    }
  });
});
