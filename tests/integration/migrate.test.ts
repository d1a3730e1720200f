import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { migrate, readMigrations } from "@/lib/server/migrate";

// The offline migration runner: Prisma's bookkeeping, idempotence, a lock against concurrent
// runs, and a schema that the generated client can fully read and write.

const adminUrl = inject("pgAdminUrl");
const name = `aw_migrate_${randomBytes(4).toString("hex")}`;
const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

describe("npm run db:migrate (lib/migrate.ts)", () => {
  it("applies every migration once, even when several processes start at the same moment", async () => {
    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
    const all = await readMigrations();
    // Each migration is applied by exactly one of them (which one wins each lock is a race).
    expect(results.flatMap((r) => r.applied).sort()).toEqual(all.map((m) => m.name).sort());
    for (const r of results) expect([...r.applied, ...r.alreadyApplied].sort()).toEqual(all.map((m) => m.name));
  });

  it("records what it applied exactly as Prisma does", async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query(
      `SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const columns = await client.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    await client.end();
    const all = await readMigrations();
    expect(rows.map((r) => [r.migration_name, r.checksum])).toEqual(all.map((m) => [m.name, m.checksum]));
    for (const r of rows) {
      expect(r.finished_at).toBeInstanceOf(Date);
      expect(r.rolled_back_at).toBeNull();
      expect(r.applied_steps_count).toBe(1);
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(columns.rows.map((c) => c.column_name)).toEqual([
      "id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at", "applied_steps_count",
    ]);
  });

  it("is idempotent", async () => {
    expect((await migrate(url)).applied).toEqual([]);
  });

  it("produces a schema that matches schema.prisma: every field readable and writable", async () => {
    // Prisma's own client, generated from schema.prisma, is the judge of whether the migrations
    // built the schema it describes (the app itself queries with SQL: see lib/entries.ts).
    const { PrismaClient } = await import("@/lib/generated/prisma/client");
    const { PrismaPg } = await import("@prisma/adapter-pg");
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
    const lockedAt = new Date("2026-01-02T03:04:05.678Z");
    const fields = {
      title: "t".repeat(200),
      status: "STAGE_2",
      progress: 66,
      lockedBy: "host:1:abc",
      lockedAt,
      result: { completedAt: "x", nested: [1, 2] },
      error: "boom",
      attempts: 2,
      runAt: lockedAt,
      version: 7,
      cancelRequestedAt: lockedAt,
    } as const;
    const created = await prisma.entry.create({ data: fields });
    // Ids are time-ordered UUIDs (version 7), so entries created together share index pages.
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const read = await prisma.entry.findUniqueOrThrow({ where: { id: created.id } });
    expect(read).toMatchObject(fields);
    expect(read.createdAt).toBeInstanceOf(Date);
    expect(read.updatedAt).toBeInstanceOf(Date);
    for (const status of ["CREATED", "STAGE_1", "STAGE_2", "COMPLETED", "FAILED"] as const) {
      await prisma.entry.update({ where: { id: created.id }, data: { status } });
    }
    const execution = await prisma.stageExecution.create({
      data: {
        entryId: created.id,
        fromStatus: "CREATED",
        toStatus: "STAGE_1",
        workerId: "w",
        attempt: 1,
        startedAt: lockedAt,
        outcome: "FAILED",
        error: "e",
        retryAt: lockedAt,
      },
    });
    expect(await prisma.stageExecution.findUniqueOrThrow({ where: { id: execution.id } })).toMatchObject({
      entryId: created.id,
      outcome: "FAILED",
      retryAt: lockedAt,
    });
    // The "once" index: failures of a stage may repeat, a second SUCCEEDED run is refused by the database.
    await prisma.stageExecution.create({ data: { ...execution, id: undefined, attempt: 2 } });
    const succeeded = { ...execution, id: undefined, outcome: "SUCCEEDED" as const, error: null, retryAt: null };
    await prisma.stageExecution.create({ data: succeeded });
    await expect(prisma.stageExecution.create({ data: succeeded })).rejects.toMatchObject({ code: "P2002" }); // unique violation
    // The per-status counts kept by the triggers, and the worker registry.
    expect(await prisma.entryStatusCount.aggregate({ where: { status: "FAILED" }, _sum: { count: true } })).toEqual({ _sum: { count: 1n } });
    const worker = await prisma.worker.create({ data: { id: "w-1", hostname: "h", pid: 1, stoppedAt: lockedAt } });
    expect(await prisma.worker.findUniqueOrThrow({ where: { id: "w-1" } })).toEqual(worker);
    const kept = await prisma.idempotencyKey.create({
      data: { scope: "127.0.0.1", key: "k", endpoint: "POST /api/entries", fingerprint: "f", responseStatus: 201, responseBody: { id: "x", n: [1] }, expiresAt: lockedAt },
    });
    expect(await prisma.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope: "127.0.0.1", key: "k" } } })).toEqual(kept);
    await prisma.$disconnect();
  });
});
