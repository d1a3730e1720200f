import { pool, type Queryable } from "@/lib/server/db";
import { notFound } from "@/lib/server/api-error";
import { ENTRY_COLUMNS, type Entry } from "@/lib/server/entries/columns";
import type { StageExecution } from "@/lib/generated/prisma/client";

// Reading entries and their stage executions, one at a time or by change time.

/** Entries changed after `since`, oldest change first: the change-only poll (GET ?updatedSince=). */
export async function listChangedSince(since: Date, limit: number): Promise<Entry[]> {
  const { rows } = await pool.query<Entry>(
    `SELECT ${ENTRY_COLUMNS} FROM "Entry" e WHERE e."updatedAt" > $1 ORDER BY e."updatedAt", e.id LIMIT $2`,
    [since, limit],
  );
  return rows;
}

/** One entry, or 404. */
export async function getEntry(id: string, db: Queryable = pool): Promise<Entry> {
  const { rows } = await db.query<Entry>(`SELECT ${ENTRY_COLUMNS} FROM "Entry" e WHERE e.id = $1`, [id]);
  if (!rows[0]) throw notFound();
  return rows[0];
}

/** A stage execution as the API answers it (its id fits a JSON number for 2^53 executions). */
export type StageExecutionRow = Omit<StageExecution, "id"> & { id: number };

/** Every recorded stage execution of one entry, oldest first. */
export async function listStageExecutions(id: string): Promise<StageExecutionRow[]> {
  await getEntry(id);
  const { rows } = await pool.query<StageExecutionRow>(
    `SELECT id::int8::float8 AS id, "entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", "finishedAt", outcome, error, "retryAt"
       FROM "StageExecution" WHERE "entryId" = $1 ORDER BY id`,
    [id],
  );
  return rows;
}
