import { pool } from "@/lib/server/db";

// Which worker processes are alive. Every worker writes its row in "Worker" every
// WORKER_ALIVE_INTERVAL_MS; a holder whose row says it stopped, or that has not written it for
// WORKER_DEAD_AFTER_MS, is dead, and its locks may be taken at once instead of after LOCK_TTL_MS.
// A SIGKILLed worker's entries then wait seconds, not two minutes. The TTL stays as the last
// resort, for holders with no row to read.
//
// One rule, in one SQL fragment, for everything that asks: claims, the operator's release,
// readiness and the lock health shown with every entry.

/** How often a worker records that it is alive. */
export const WORKER_ALIVE_INTERVAL_MS = 2000;
/** A worker silent this long is dead: five missed beats, so a slow event loop or a busy pool is not enough. */
export const WORKER_DEAD_AFTER_MS = 5 * WORKER_ALIVE_INTERVAL_MS;

/** Lock tokens are `<worker id>#<claim number>`: the worker part names the Worker row. */
export const workerIdOf = (lockToken: string) => lockToken.split("#")[0] ?? lockToken;

// Silence is counted from the database server's own start at the earliest: after a restart every
// worker gets the full WORKER_DEAD_AFTER_MS to reconnect before anyone counts it dead, so a
// database restart never makes live workers' locks look abandoned.
const SILENT_SINCE = `greatest(w."lastSeenAt", pg_postmaster_start_time())`;
const DEAD = `(w."stoppedAt" IS NOT NULL OR ${SILENT_SINCE} < now() - interval '${WORKER_DEAD_AFTER_MS} milliseconds')`;

/** SQL: the holder named by the lock token `lockedBy` (a column or expression) is known to be dead. */
export const holderIsDeadSql = (lockedBy: string) =>
  `EXISTS (SELECT 1 FROM "Worker" w WHERE w.id = split_part(${lockedBy}, '#', 1) AND ${DEAD})`;

/** SQL: the holder named by `lockedBy` is known to be alive. */
export const holderIsAliveSql = (lockedBy: string) =>
  `EXISTS (SELECT 1 FROM "Worker" w WHERE w.id = split_part(${lockedBy}, '#', 1) AND NOT ${DEAD})`;

/**
 * SQL: a lock anyone may take — free, older than the TTL (`ttlMsParam` names a parameter in
 * milliseconds), or held by a dead worker. `e` is the alias of "Entry" in the statement.
 */
export const lockIsFreeSql = (ttlMsParam: string) =>
  `(e."lockedBy" IS NULL
    OR e."lockedAt" < now() - make_interval(secs => ${ttlMsParam}::float8 / 1000)
    OR ${holderIsDeadSql(`e."lockedBy"`)})`;

/** SQL: a held lock another worker may take over — older than the TTL, or its holder is dead. */
export const lockIsAbandonedSql = (ttlMsParam: string) =>
  `(e."lockedBy" IS NOT NULL
    AND (e."lockedAt" < now() - make_interval(secs => ${ttlMsParam}::float8 / 1000)
         OR ${holderIsDeadSql(`e."lockedBy"`)}))`;

export async function recordWorkerAlive(workerId: string, hostname: string, pid: number): Promise<void> {
  await pool.query(
    `INSERT INTO "Worker" (id, hostname, pid) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET "lastSeenAt" = now(), "stoppedAt" = NULL`,
    [workerId, hostname, pid],
  );
}

export async function recordWorkerStopped(workerId: string): Promise<void> {
  await pool.query(`UPDATE "Worker" SET "stoppedAt" = now(), "lastSeenAt" = now() WHERE id = $1`, [workerId]);
}

/** Ids of the workers alive right now, oldest first. */
export async function liveWorkerIds(): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT w.id FROM "Worker" w WHERE NOT ${DEAD} ORDER BY w."startedAt"`,
  );
  return rows.map((r) => r.id);
}

/** Workers seen recently enough to still hold a lock, and whether each is alive. */
export async function recentWorkers(withinMs: number): Promise<Map<string, boolean>> {
  const { rows } = await pool.query<{ id: string; alive: boolean }>(
    `SELECT w.id, NOT ${DEAD} AS alive FROM "Worker" w
      WHERE w."lastSeenAt" > now() - make_interval(secs => $1::float8 / 1000)`,
    [withinMs],
  );
  return new Map(rows.map((r) => [r.id, r.alive]));
}

/**
 * Forgets workers silent for longer than `olderThanMs`; the table would otherwise grow with every
 * start. Safe once that is longer than the lock TTL: a holder silent that long has no lock left
 * that the TTL does not already free.
 */
export async function pruneWorkers(olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM "Worker" WHERE "lastSeenAt" < now() - make_interval(secs => $1::float8 / 1000)`,
    [olderThanMs],
  );
  return rowCount ?? 0;
}
