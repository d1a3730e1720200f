import { pool } from "@/lib/server/db";
import type { EntryStatus } from "@/lib/generated/prisma/enums";
import { CANCELLED_ERROR } from "@/lib/stages";
import { ACTIVE_STATUSES_SQL, isoTextSql } from "@/lib/server/entries/columns";
import { lockIsAbandonedSql } from "@/lib/server/worker/liveness";

// The worker's statements, one function each, SQL in plain sight (as graphile-worker keeps its
// getJobs / completeJobs / failJobs). A claim sets "lockedBy" to a lock token — the worker's id
// plus a claim number, `host:pid:abc123#17` — and counts an attempt; the stage's work runs after the
// claim has committed, with no transaction or row lock open; every later write (heartbeat,
// advance, fail, release) touches only rows still carrying that token. Two claims of one entry by
// the same worker therefore never act on each other's lock. Stage executions record the worker's
// id (the token's first part) and start at the claim's lockedAt.
//
// They run on the pg pool directly, not through Prisma: they are the hot path (one round trip
// each, no query compilation), and a standalone worker process then never loads Prisma's query
// compiler (about 60 MB of its resident memory).

/** An entry as claimed: what the worker needs to run its current stage. */
export interface ClaimedEntry {
  id: string;
  status: EntryStatus;
  attempts: number;
  /**
   * When this claim took the lock, as ISO text ("2026-11-29T07:29:01.807Z", the column's exact
   * millisecond): it goes back to the database as the stage execution's start, so it is never
   * parsed into a Date and written out again (per entry, that cost a worker a seventh of its CPU).
   */
  lockedAt: string;
  /** The token of the lock this claim took over (dead or expired holder); null when the row was free. */
  previousHolder: string | null;
  /**
   * Cancelled while its holder could not end it (the holder stopped or died mid-stage): the claimer
   * ends it as Cancelled instead of doing the stage.
   */
  cancelRequested: boolean;
}

const RUNNABLE = `e.status IN ${ACTIVE_STATUSES_SQL} AND e."runAt" <= now()`;

/**
 * Claims up to `limit` due entries in one statement (only entry `id`, when given: the spec's
 * claim-by-id for a new entry). SKIP LOCKED lets many workers run this at once without waiting on
 * each other's rows or ever taking the same one; a row another transaction changed meanwhile is
 * re-checked by FOR UPDATE against its newest version before it is taken.
 *
 * Held rows whose lock was abandoned (expired, or holder dead) come first: they have waited
 * longest, and a steady stream of new entries must not keep them waiting. They are found through
 * the lock index, which holds locked rows only. The rest of the batch are free entries in "runAt"
 * order, from an index that holds only free, active entries ("Entry_due_idx"), so a claim never
 * walks past rows other workers hold.
 */
export async function claimEntries(lockToken: string, lockTtlMs: number, limit: number, id?: string): Promise<ClaimedEntry[]> {
  const { rows } = await pool.query<ClaimedEntry>(
    `WITH abandoned AS (
       SELECT e.id, e."lockedBy" AS previous_holder FROM "Entry" e
        WHERE ${RUNNABLE} AND e."lockedAt" IS NOT NULL AND ${lockIsAbandonedSql("$2")} AND ($4::uuid IS NULL OR e.id = $4)
        ORDER BY e."runAt"
        LIMIT $3
          FOR UPDATE SKIP LOCKED
     ), free AS (
       SELECT e.id, NULL::text AS previous_holder FROM "Entry" e
        WHERE ${RUNNABLE} AND e."lockedBy" IS NULL AND ($4::uuid IS NULL OR e.id = $4)
        ORDER BY e."runAt"
        LIMIT greatest(0, $3 - (SELECT count(*) FROM abandoned))
          FOR UPDATE SKIP LOCKED
     ), due AS (
       SELECT * FROM abandoned UNION ALL SELECT * FROM free
     ), claimed AS (
       -- Rows found by primary key (= ANY of the ids): joined to the CTE instead, the planner
       -- may hash-join it against the whole table.
       UPDATE "Entry" AS e
          SET "lockedBy" = $1, "lockedAt" = now(), attempts = e.attempts + 1, version = e.version + 1,
              "updatedAt" = now(), "changeTxid" = pg_current_xact_id()
        WHERE e.id = ANY(ARRAY(SELECT id FROM due))
       RETURNING e.id, e.status, e.attempts, ${isoTextSql(`e."lockedAt"`)} AS "lockedAt", e."cancelRequestedAt" IS NOT NULL AS "cancelRequested"
     )
     SELECT c.*, due.previous_holder AS "previousHolder" FROM claimed c JOIN due USING (id)`,
    [lockToken, lockTtlMs, limit, id ?? null],
  );
  return rows;
}

/** The spec's conditional claim of one entry: null unless the row was free (or its holder's lock had lapsed). */
export async function claimEntry(id: string, lockToken: string, lockTtlMs: number): Promise<ClaimedEntry | null> {
  return (await claimEntries(lockToken, lockTtlMs, 1, id))[0] ?? null;
}

/** Keeps a claim's locks fresh while their stages run; returns the ids it still holds. */
export async function refreshLocks(lockToken: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await pool.query<{ id: string }>(
    `UPDATE "Entry" SET "lockedAt" = now(), version = version + 1
      WHERE id = ANY($1::uuid[]) AND "lockedBy" = $2
     RETURNING id`,
    [ids, lockToken],
  );
  return new Set(rows.map((r) => r.id));
}

export interface Advance {
  entry: ClaimedEntry;
  to: EntryStatus;
  progress: number;
  result: object | null;
}

/**
 * Moves entries to their next stage, resets their attempts, releases their locks and records each
 * stage execution, in one statement for the whole batch. Only rows still carrying `lockToken`, still
 * in the status the work started from, are written.
 *
 * With `nextToken`, an entry that moves on to another stage is claimed again for that stage in the
 * same write: its lock goes from `lockToken` to `nextToken`, the attempt counts as a fresh claim,
 * and `lockedAt` restarts. That is the spec's "release, then claim the next stage" for one entry
 * followed through its stages (as the claim by id does), in one round trip instead of two. Entries
 * cancelled meanwhile, finished or not yet due are released as usual.
 */
export async function advanceEntries(lockToken: string, advances: Advance[], nextToken?: string): Promise<{ advanced: string[]; next: ClaimedEntry[] }> {
  if (advances.length === 0) return { advanced: [], next: [] };
  // Whether this row goes on under nextToken (old values of e: not cancelled, due now).
  const chains = `t.chain AND e."cancelRequestedAt" IS NULL AND e."runAt" <= now()`;
  // The batch travels as one JSON parameter: serializing it is one native JSON.stringify, where
  // seven typed arrays cost the worker's CPU more than the rest of its bookkeeping together. As
  // json, not jsonb: the server only checks it on the way in and reads it once.
  const batch = advances.map((a) => ({
    id: a.entry.id,
    from_status: a.entry.status,
    to_status: a.to,
    progress: a.progress,
    result: a.result,
    attempt: a.entry.attempts,
    started_at: a.entry.lockedAt,
  }));
  const { rows } = await pool.query<{ entryId: string; status: EntryStatus; attempts: number; nextLockedAt: string | null }>(
    `WITH t AS MATERIALIZED (
       -- The token rides along as a column of a materialized CTE: compared with a constant, the
       -- planner expects one matching row (tokens are always new to its statistics) and may pick a
       -- plan that compares every row of the table with every entry of the batch.
       SELECT *, $1::text AS token, $4::text IS NOT NULL AND to_status IN ${ACTIVE_STATUSES_SQL} AS chain
         FROM json_to_recordset($2::json)
              AS t(id uuid, from_status "EntryStatus", to_status "EntryStatus", progress int, result jsonb, attempt int, started_at timestamptz)
     ), advanced AS (
       -- A cancel requested meanwhile takes effect here, at the stage boundary: the stage's work
       -- counts (progress moves on) and the entry then ends FAILED instead of going on.
       UPDATE "Entry" AS e
          SET status = CASE WHEN e."cancelRequestedAt" IS NOT NULL AND t.to_status <> 'COMPLETED' THEN 'FAILED' ELSE t.to_status END,
              error = CASE WHEN e."cancelRequestedAt" IS NOT NULL AND t.to_status <> 'COMPLETED' THEN $3 END,
              progress = t.progress, result = COALESCE(t.result, e.result),
              attempts = CASE WHEN ${chains} THEN 1 ELSE 0 END,
              "lockedBy" = CASE WHEN ${chains} THEN $4 END,
              "lockedAt" = CASE WHEN ${chains} THEN now() END,
              version = e.version + 1, "updatedAt" = now(), "changeTxid" = pg_current_xact_id()
         FROM t
        -- Rows named by primary key (= ANY of the batch's ids): joined to t alone, the planner may
        -- read the whole table per batch.
        WHERE e.id = ANY(ARRAY(SELECT id FROM t)) AND e.id = t.id AND e."lockedBy" = t.token AND e.status = t.from_status
       RETURNING t.id, t.from_status, e.status AS to_status, t.attempt, t.started_at, e.attempts AS next_attempts, ${isoTextSql(`e."lockedAt"`)} AS next_locked_at
     ), recorded AS (
       INSERT INTO "StageExecution" ("entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", outcome)
       SELECT id, from_status, to_status, split_part($1, '#', 1), attempt, started_at, 'SUCCEEDED' FROM advanced
     )
     SELECT id AS "entryId", to_status AS status, next_attempts AS attempts, next_locked_at AS "nextLockedAt" FROM advanced`,
    [lockToken, JSON.stringify(batch), CANCELLED_ERROR, nextToken ?? null],
  );
  return {
    advanced: rows.map((r) => r.entryId),
    // Claimed for the next stage: still locked after the advance (the statement took the lock).
    next: rows.flatMap((r) =>
      r.nextLockedAt ? [{ id: r.entryId, status: r.status, attempts: r.attempts, lockedAt: r.nextLockedAt, previousHolder: null, cancelRequested: false }] : [],
    ),
  };
}

/** The entries among `ids` that carry `lockToken`, as claimed (to recover a claim whose answer was lost). */
export async function heldBy(lockToken: string, ids: string[]): Promise<ClaimedEntry[]> {
  if (ids.length === 0) return [];
  const { rows } = await pool.query<ClaimedEntry>(
    `SELECT e.id, e.status, e.attempts, ${isoTextSql(`e."lockedAt"`)} AS "lockedAt", NULL AS "previousHolder", e."cancelRequestedAt" IS NOT NULL AS "cancelRequested"
       FROM "Entry" e WHERE e.id = ANY($1::uuid[]) AND e."lockedBy" = $2`,
    [ids, lockToken],
  );
  return rows;
}

export interface StageFailure {
  entry: ClaimedEntry;
  message: string;
  /** How long until the next attempt; null when the attempts are used up and the entry ends FAILED. */
  retryDelayMs: number | null;
}

/**
 * Records a failed stage: schedules the retry (runAt) or ends the entry as FAILED, keeps the error,
 * releases the lock. Guarded like advanceEntries. Returns whether the claim still held the row.
 * The retry time is reckoned on the database's clock, the one claims compare runAt with, so
 * workers on hosts with skewed clocks still agree on when a retry is due.
 */
export async function failStage(lockToken: string, { entry, message, retryDelayMs }: StageFailure): Promise<boolean> {
  const { rows } = await pool.query<{ entryId: string }>(
    `WITH failed AS (
       UPDATE "Entry"
          SET status = CASE WHEN "cancelRequestedAt" IS NOT NULL OR $5::float8 IS NULL THEN 'FAILED' ELSE status END,
              error = CASE WHEN "cancelRequestedAt" IS NOT NULL THEN $6 ELSE $4 END,
              "runAt" = CASE WHEN $5::float8 IS NULL THEN "runAt" ELSE now() + make_interval(secs => $5::float8 / 1000) END,
              "lockedBy" = NULL, "lockedAt" = NULL, version = version + 1, "updatedAt" = now()
        WHERE id = $1 AND "lockedBy" = $2 AND status = $3::"EntryStatus"
       RETURNING id, status, "runAt"
     )
     INSERT INTO "StageExecution" ("entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", outcome, error, "retryAt")
     SELECT id, $3::"EntryStatus", status, split_part($2, '#', 1), $7, $8, 'FAILED', $4, CASE WHEN status = 'FAILED' THEN NULL ELSE "runAt" END
       FROM failed
     RETURNING "entryId"`,
    [entry.id, lockToken, entry.status, message, retryDelayMs, CANCELLED_ERROR, entry.attempts, entry.lockedAt],
  );
  return rows.length > 0;
}

/**
 * Hands back a claim's locks without finishing their stage (shutdown, or a claim the worker will
 * not run): the attempt does not count, and idle workers are woken to take the entries at once.
 * Returns how many rows the claim still held.
 */
export async function releaseClaim(lockToken: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await pool.query<{ n: number }>(
    `WITH released AS (
       UPDATE "Entry" SET "lockedBy" = NULL, "lockedAt" = NULL, attempts = greatest(attempts - 1, 0),
              version = version + 1, "updatedAt" = now()
        WHERE id = ANY($1::uuid[]) AND "lockedBy" = $2
       RETURNING id
     ), woken AS (
       SELECT pg_notify('entry_ready', '') FROM (SELECT 1 FROM released LIMIT 1) any_released
     )
     SELECT (SELECT count(*)::int FROM released) AS n, (SELECT count(*) FROM woken) AS notified`,
    [ids, lockToken],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Of `entries`, those whose stage execution this claim already recorded (an execution starts at
 * its claim's lockedAt, so worker and start time name the claim). After a write whose answer was
 * lost with the connection, this tells whether it committed.
 */
export async function recordedBy(lockToken: string, entries: ClaimedEntry[]): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const { rows } = await pool.query<{ entryId: string }>(
    `SELECT x."entryId" FROM "StageExecution" x
       JOIN unnest($1::uuid[], $2::timestamptz[]) AS c(id, started_at) ON x."entryId" = c.id AND x."startedAt" = c.started_at
      WHERE x."workerId" = split_part($3, '#', 1)`,
    [entries.map((e) => e.id), entries.map((e) => e.lockedAt), lockToken],
  );
  return new Set(rows.map((r) => r.entryId));
}
