import { config } from "@/lib/server/config";
import { pool, type Queryable } from "@/lib/server/db";
import { conflict } from "@/lib/server/api-error";
import { ACTIVE_STATUSES_SQL, ENTRY_COLUMNS, type Entry } from "@/lib/server/entries/columns";
import { getEntry } from "@/lib/server/entries/reads";
import { holderIsAliveSql, lockIsFreeSql } from "@/lib/server/worker/liveness";
import { CANCELLED_ERROR, isTerminal, resumeStatus } from "@/lib/stages";

// What an operator does to an entry: retry, cancel, free a lock.

// Each operation reads the entry once (404, and the reason for a 409), then writes with a
// condition that re-checks that reason, returning the row it wrote. Retry and cancel take the
// connection to run on: an idempotent request runs them in the transaction that keeps its answer.

/** FAILED → queued again from the stage after its last completed one, attempts reset. */
export async function retryEntry(id: string, db: Queryable = pool): Promise<Entry> {
  const current = await getEntry(id, db);
  if (current.status !== "FAILED") throw conflict(`Only FAILED entries can be retried; this one is ${current.status}`);
  const { rows } = await db.query<Entry>(
    `WITH retried AS (
       UPDATE "Entry" AS e
          SET status = $2::"EntryStatus", error = NULL, attempts = 0, "runAt" = now(), "cancelRequestedAt" = NULL,
              "lockedBy" = NULL, "lockedAt" = NULL, version = e.version + 1, "updatedAt" = now()
        WHERE e.id = $1 AND e.status = 'FAILED'
       RETURNING ${ENTRY_COLUMNS}
     )
     SELECT retried.* FROM retried, pg_notify('entry_ready', '')`,
    [id, resumeStatus(current.progress)],
  );
  if (!rows[0]) throw conflict("The entry changed meanwhile; read it again");
  return rows[0];
}

/**
 * Stops a non-terminal entry. Not held by a live worker: FAILED ("Cancelled") at once. Held: the
 * request is recorded and the worker ends it at its next stage boundary.
 */
export async function cancelEntry(id: string, db: Queryable = pool): Promise<Entry> {
  const current = await getEntry(id, db);
  if (isTerminal(current.status)) throw conflict(`A ${current.status} entry cannot be cancelled`);
  const { rows } = await db.query<Entry>(
    `WITH cur AS (
       SELECT e.id, ${lockIsFreeSql("$2")} AS free FROM "Entry" e WHERE e.id = $1
     )
     UPDATE "Entry" AS e
        SET "cancelRequestedAt" = now(),
            status = CASE WHEN cur.free THEN 'FAILED' ELSE e.status END,
            error = CASE WHEN cur.free THEN $3 ELSE e.error END,
            "lockedBy" = CASE WHEN cur.free THEN NULL ELSE e."lockedBy" END,
            "lockedAt" = CASE WHEN cur.free THEN NULL ELSE e."lockedAt" END,
            version = e.version + 1, "updatedAt" = now()
       FROM cur
      WHERE e.id = cur.id AND e.status IN ${ACTIVE_STATUSES_SQL}
     RETURNING ${ENTRY_COLUMNS}`,
    [id, config.LOCK_TTL_MS, CANCELLED_ERROR],
  );
  if (!rows[0]) throw conflict("The entry finished meanwhile");
  return rows[0];
}

/**
 * An operator frees a lock whose holder is gone. Refused while the holder lives: its Worker row is
 * fresh (the claims' own rule), or — for a holder with no row to read — its lock was refreshed
 * within the last two of its TTL/3 heartbeat periods.
 */
export async function releaseAbandonedLock(id: string, db: Queryable = pool): Promise<Entry> {
  const current = await getEntry(id, db);
  if (!current.lockedBy) throw conflict("This entry is not locked");
  const ttlMs = config.LOCK_TTL_MS;
  const { rows } = await db.query<Entry>(
    `WITH released AS (
       UPDATE "Entry" AS e SET "lockedBy" = NULL, "lockedAt" = NULL, version = e.version + 1, "updatedAt" = now()
        WHERE e.id = $1 AND e."lockedBy" IS NOT NULL
          AND (${lockIsFreeSql("$2")} OR (NOT ${holderIsAliveSql(`e."lockedBy"`)} AND e."lockedAt" < now() - make_interval(secs => $3::float8 / 1000)))
       RETURNING ${ENTRY_COLUMNS}
     )
     SELECT released.* FROM released, pg_notify('entry_ready', '')`,
    [id, ttlMs, Math.round((2 * ttlMs) / 3)],
  );
  if (!rows[0]) {
    throw conflict(`The holder (${current.lockedBy}) is alive. Wait for its stage to end, or stop that worker: a stopping worker hands its locks back.`);
  }
  return rows[0];
}
