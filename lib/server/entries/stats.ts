import { config } from "@/lib/server/config";
import { pool } from "@/lib/server/db";
import { ACTIVE_STATUSES_SQL, type EntryStatus } from "@/lib/server/entries/columns";
import { lockIsFreeSql } from "@/lib/server/worker/liveness";
import { STATUSES } from "@/lib/stages";

export type StatusCounts = Record<EntryStatus, number>;

/** Exact per-status counts, from the shards the triggers keep (never a count(*) over "Entry"). */
export async function statusCounts(): Promise<StatusCounts> {
  const { rows } = await pool.query<{ status: EntryStatus; count: string }>(
    `SELECT status, sum(count) AS count FROM "EntryStatusCount" GROUP BY status`,
  );
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as StatusCounts;
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}

export interface Stats {
  counts: StatusCounts;
  total: number;
  /** Entries not yet COMPLETED or FAILED. */
  queueDepth: number;
  /** Age of the oldest entry that is due and waiting for a worker; 0 when none waits. */
  oldestWaitingSeconds: number;
  lastMinute: { stagesCompleted: number; stagesFailed: number; entriesCompleted: number; perSecond: number };
}

export async function entryStats(): Promise<Stats> {
  const [counts, waiting, minute] = await Promise.all([
    statusCounts(),
    // Waiting: due, and free for a worker to take (never claimed, or its holder gone).
    pool.query<{ seconds: number | null }>(
      `SELECT extract(epoch FROM now() - min(e."runAt"))::float8 AS seconds FROM "Entry" e
        WHERE e.status IN ${ACTIVE_STATUSES_SQL} AND e."runAt" <= now() AND ${lockIsFreeSql("$1")}`,
      [config.LOCK_TTL_MS],
    ),
    pool.query<{ succeeded: number; failed: number; completed: number }>(
      `SELECT count(*) FILTER (WHERE outcome = 'SUCCEEDED')::int AS succeeded,
              count(*) FILTER (WHERE outcome = 'FAILED')::int AS failed,
              count(*) FILTER (WHERE outcome = 'SUCCEEDED' AND "toStatus" = 'COMPLETED')::int AS completed
         FROM "StageExecution" WHERE "finishedAt" > now() - interval '1 minute'`,
    ),
  ]);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const { succeeded = 0, failed = 0, completed = 0 } = minute.rows[0] ?? {};
  return {
    counts,
    total,
    queueDepth: total - counts.COMPLETED - counts.FAILED,
    oldestWaitingSeconds: Math.max(0, waiting.rows[0]?.seconds ?? 0),
    lastMinute: {
      stagesCompleted: succeeded,
      stagesFailed: failed,
      entriesCompleted: completed,
      perSecond: Math.round((succeeded / 60) * 100) / 100,
    },
  };
}
