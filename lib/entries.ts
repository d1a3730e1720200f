import type pg from "pg";
import { pool, prisma } from "@/lib/db";
import { ApiError, conflict, notFound } from "@/lib/errors";
import type { Entry, EntryStatus } from "@/lib/generated/prisma/client";
import { jsonTypes } from "@/lib/pg-types";
import { canTransition, isTerminal, PROGRESS, resumeStatus, STATUSES } from "@/lib/stages";
import type { Jsonified } from "@/lib/utils";
import { encodeCursor, type ListEntriesQuery, type UpdateEntryInput } from "@/lib/validation";

// Every query on entries lives here: the API's reads and writes first, then the worker's
// claim / advance / fail statements, each with its SQL in plain sight.

export type { Entry, EntryStatus };

export type StatusCounts = Record<EntryStatus, number>;

/** An entry read for the API's JSON only: its timestamps already ISO strings (see jsonTypes). */
export type EntryRow = Jsonified<Entry>;

export interface EntryPage {
  entries: EntryRow[];
  /** Entries matching the filters (exact). */
  total: number;
  limit: number;
  offset: number;
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
  /** Entries per status over the whole table, for the filter tabs. */
  counts: StatusCounts;
}

export function createEntry(title: string): Promise<Entry> {
  return prisma.entry.create({ data: { title } });
}

/** Exact per-status counts, from the table the triggers keep (never a count(*) over "Entry"). */
export async function statusCounts(): Promise<StatusCounts> {
  const { rows } = await pool.query<{ status: EntryStatus; count: string }>(`SELECT status, count FROM "EntryStatusCount"`);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as StatusCounts;
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}

/**
 * Newest first (ties on createdAt broken by id, so pages never overlap). With `cursor`, the page
 * after that position, found through the (createdAt, id) index at any depth; `offset` still works
 * for compatibility but costs more the deeper it goes. Without a title search, the total comes
 * from the per-status counts, so it stays exact and cheap at any table size.
 */
export async function listEntries({ limit, offset, cursor, status, q }: ListEntriesQuery): Promise<EntryPage> {
  // Plain SQL here, for the row comparison: ("createdAt", id) < ($1, $2) is one range scan of the
  // (createdAt DESC, id DESC) index however deep the cursor is, where the OR form an ORM writes
  // scans every newer entry first. This is the 2 s poll's query, so its plan matters most.
  const filters: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  if (status) filters.push(`status = ${param(status)}::"EntryStatus"`);
  if (q) filters.push(`title ILIKE ${param(`%${q.replace(/[\\%_]/g, "\\$&")}%`)}`);
  const searchFilters = [...filters];
  if (cursor) filters.push(`("createdAt", id) < (${param(cursor.createdAt)}, ${param(cursor.id)}::uuid)`);
  const where = filters.length ? `WHERE ${filters.join(" AND ")}` : "";
  const pageSql = `SELECT * FROM "Entry" ${where} ORDER BY "createdAt" DESC, id DESC LIMIT ${param(limit)} OFFSET ${param(cursor ? 0 : offset)}`;

  const [page, counts, searchTotal] = await Promise.all([
    pool.query<EntryRow>({ text: pageSql, values, types: jsonTypes }),
    statusCounts(),
    q ? countMatching(searchFilters, values.slice(0, searchFilters.length)) : null,
  ]);
  const entries = page.rows;
  const total = searchTotal ?? (status ? counts[status] : Object.values(counts).reduce((a, b) => a + b, 0));
  const last = entries.at(-1);
  return { entries, total, limit, offset, nextCursor: entries.length === limit && last ? encodeCursor(last) : null, counts };
}

/** A title search has to count its matches; everything else reads the kept counts. */
async function countMatching(filters: string[], values: unknown[]): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "Entry" WHERE ${filters.join(" AND ")}`, values);
  return Number(rows[0]?.n ?? 0);
}

/** Entries changed after `since`, oldest change first: the change-only poll and the live feed. */
export async function listChangedSince(since: Date, limit: number): Promise<Entry[]> {
  return prisma.entry.findMany({ where: { updatedAt: { gt: since } }, orderBy: [{ updatedAt: "asc" }, { id: "asc" }], take: limit });
}

export async function getEntry(id: string): Promise<Entry> {
  const entry = await prisma.entry.findUnique({ where: { id } });
  if (!entry) throw notFound();
  return entry;
}

/** The entity tag of an entry's current version. */
export const etagOf = (entry: Pick<Entry, "version">) => `"v${entry.version}"`;

export interface UpdateOptions {
  /** The If-Match header, if the client sent one. */
  ifMatch: string | null;
  lockTtlMs: number;
}

/**
 * The internal manual edit. Refused while a worker holds the row (409), when If-Match names another
 * version (412), and for any move the state machine does not allow (409). The write itself is a
 * compare-and-set on the version read here, and it clears any expired lock, so neither a manual
 * edit nor a stale worker can overwrite the other without noticing.
 */
export async function updateEntry(id: string, input: UpdateEntryInput, { ifMatch, lockTtlMs }: UpdateOptions): Promise<Entry> {
  const current = await getEntry(id);
  if (ifMatch !== null && !etagMatches(ifMatch, current)) {
    throw new ApiError(412, "precondition_failed", `The entry has changed: it is at version ${etagOf(current)}`);
  }
  if (current.lockedBy && current.lockedAt && current.lockedAt.getTime() > Date.now() - lockTtlMs) {
    throw conflict(`A worker (${current.lockedBy}) is processing this entry; try again when its stage ends`);
  }
  const status = input.status ?? current.status;
  if (status !== current.status && !canTransition(current.status, status)) {
    throw conflict(`Cannot move an entry from ${current.status} to ${status}`);
  }
  const progress = status === "FAILED" ? current.progress : (PROGRESS[status] ?? 0);
  if (input.progress !== undefined && input.progress !== progress) {
    throw conflict(`Progress of a ${status} entry is ${progress}, not ${input.progress}`);
  }
  const changedStatus = status !== current.status;
  const result =
    changedStatus && status === "COMPLETED" ? { completedAt: new Date().toISOString(), message: "Completed by an operator" } : undefined;
  const error = changedStatus && status === "FAILED" ? "Failed by an operator" : undefined;

  const { count } = await prisma.entry.updateMany({
    where: {
      id,
      version: current.version,
      OR: [{ lockedBy: null }, { lockedAt: { lt: new Date(Date.now() - lockTtlMs) } }],
    },
    data: {
      status,
      progress,
      lockedBy: null,
      lockedAt: null,
      version: { increment: 1 },
      ...(result && { result }),
      ...(error && { error }),
      ...(changedStatus && { attempts: 0, runAt: new Date() }),
    },
  });
  if (count === 0) {
    const now = await getEntry(id);
    if (ifMatch !== null) throw new ApiError(412, "precondition_failed", `The entry has changed: it is at version ${etagOf(now)}`);
    throw conflict("The entry changed while it was being updated; read it again and retry");
  }
  return getEntry(id);
}

function etagMatches(header: string, entry: Entry) {
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etagOf(entry));
}

// ── Worker ────────────────────────────────────────────────────────────────────────────────────
// A claim sets lockedBy/lockedAt and counts an attempt; the stage's work runs after the claim has
// committed, with no transaction or row lock open; advance/fail then write only rows still held
// by the same worker (WHERE "lockedBy" = me). A lock older than the TTL is free for anyone.

/** An entry as claimed: what the worker needs to run its current stage. */
export interface ClaimedEntry {
  id: string;
  status: EntryStatus;
  attempts: number;
  lockedAt: Date;
  /** Taken over from a holder whose lock had expired (batch claims only). */
  reclaimed?: boolean;
}

/** The error kept on an entry that was cancelled. */
export const CANCELLED = "Cancelled";

// The worker's statements run on the pg pool directly, not through Prisma: they are the hot path
// (one round trip each, no query compilation), and a standalone worker process then never loads
// Prisma's query compiler (about 60 MB of its resident memory). Parameters are positional ($n).
const run = <T extends pg.QueryResultRow>(text: string, values: unknown[]) => pool.query<T>(text, values);

/**
 * Claims one entry for its next stage with the spec's conditional UPDATE: it succeeds only if
 * nobody holds the row or the holder's lock is older than the TTL. Null when not claimed.
 */
export async function claimEntry(id: string, workerId: string, lockTtlMs: number): Promise<ClaimedEntry | null> {
  const { rows } = await run<ClaimedEntry>(
    `UPDATE "Entry"
        SET "lockedBy" = $2, "lockedAt" = now(), attempts = attempts + 1, version = version + 1, "updatedAt" = now()
      WHERE id = $1
        AND status IN ('CREATED', 'STAGE_1', 'STAGE_2')
        AND "runAt" <= now()
        AND "cancelRequestedAt" IS NULL
        AND ("lockedBy" IS NULL OR "lockedAt" < now() - make_interval(secs => $3::float8 / 1000))
     RETURNING id, status, attempts, "lockedAt"`,
    [id, workerId, lockTtlMs],
  );
  return rows[0] ?? null;
}

/**
 * Claims up to `limit` due entries in one statement. SKIP LOCKED lets many workers run this at
 * once without waiting on each other's rows or ever taking the same one; the outer UPDATE re-checks
 * the lock condition, so a row changed since the inner SELECT is simply left out.
 */
export async function claimEntries(workerId: string, lockTtlMs: number, limit: number): Promise<ClaimedEntry[]> {
  const { rows } = await run<ClaimedEntry>(
    `WITH due AS (
       SELECT id, "lockedBy" IS NOT NULL AS reclaimed FROM "Entry"
        WHERE status IN ('CREATED', 'STAGE_1', 'STAGE_2')
          AND "runAt" <= now()
          AND "cancelRequestedAt" IS NULL
          AND ("lockedBy" IS NULL OR "lockedAt" < now() - make_interval(secs => $2::float8 / 1000))
        ORDER BY "runAt"
        LIMIT $3
          FOR UPDATE SKIP LOCKED
     )
     UPDATE "Entry" AS e
        SET "lockedBy" = $1, "lockedAt" = now(), attempts = e.attempts + 1, version = e.version + 1, "updatedAt" = now()
       FROM due
      WHERE e.id = due.id
     RETURNING e.id, e.status, e.attempts, e."lockedAt", due.reclaimed`,
    [workerId, lockTtlMs, limit],
  );
  return rows;
}

/** Keeps this worker's locks fresh while their stages run; returns the ids it still holds. */
export async function heartbeat(workerId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await run<{ id: string }>(
    `UPDATE "Entry" SET "lockedAt" = now(), version = version + 1
      WHERE id = ANY($1::uuid[]) AND "lockedBy" = $2
     RETURNING id`,
    [ids, workerId],
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
 * Moves entries to their next stage, resets their attempts and releases their locks, and records
 * each stage execution, in one statement for the whole batch. Only rows this worker still holds,
 * still in the status the work started from, are written: a worker whose lock expired and was
 * taken over writes nothing. Returns the ids that advanced.
 */
export async function advanceEntries(workerId: string, advances: Advance[]): Promise<string[]> {
  if (advances.length === 0) return [];
  const { rows } = await run<{ entryId: string }>(
    `WITH t AS (
       SELECT * FROM unnest($2::uuid[], $3::"EntryStatus"[], $4::"EntryStatus"[], $5::int[], $6::jsonb[], $7::int[], $8::timestamptz[])
            AS t(id, from_status, to_status, progress, result, attempt, started_at)
     ), advanced AS (
       -- A cancel requested meanwhile takes effect here, at the stage boundary: the stage's work
       -- counts (progress moves on) and the entry then ends FAILED instead of going on.
       UPDATE "Entry" AS e
          SET status = CASE WHEN e."cancelRequestedAt" IS NOT NULL AND t.to_status <> 'COMPLETED' THEN 'FAILED' ELSE t.to_status END,
              error = CASE WHEN e."cancelRequestedAt" IS NOT NULL AND t.to_status <> 'COMPLETED' THEN $9 END,
              progress = t.progress, result = COALESCE(t.result, e.result),
              attempts = 0, "lockedBy" = NULL, "lockedAt" = NULL, version = e.version + 1, "updatedAt" = now()
         FROM t
        WHERE e.id = t.id AND e."lockedBy" = $1 AND e.status = t.from_status
       RETURNING t.id, t.from_status, e.status AS to_status, t.attempt, t.started_at
     )
     INSERT INTO "StageExecution" ("entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", outcome)
     SELECT id, from_status, to_status, $1, attempt, started_at, 'SUCCEEDED' FROM advanced
     RETURNING "entryId"`,
    [
      workerId,
      advances.map((a) => a.entry.id),
      advances.map((a) => a.entry.status),
      advances.map((a) => a.to),
      advances.map((a) => a.progress),
      advances.map((a) => (a.result ? JSON.stringify(a.result) : null)),
      advances.map((a) => a.entry.attempts),
      advances.map((a) => a.entry.lockedAt),
      CANCELLED,
    ],
  );
  return rows.map((r) => r.entryId);
}

export interface StageFailure {
  entry: ClaimedEntry;
  message: string;
  /** How long until the next attempt; null when the attempts are used up and the entry ends FAILED. */
  retryDelayMs: number | null;
}

/**
 * Records a failed stage: schedules the retry (runAt) or ends the entry as FAILED, keeps the error,
 * releases the lock. Guarded like advanceEntries. Returns whether this worker still held the row.
 * The retry time is reckoned on the database's clock, the one claims compare runAt with, so
 * workers on hosts with skewed clocks still agree on when a retry is due.
 */
export async function failStage(workerId: string, { entry, message, retryDelayMs }: StageFailure): Promise<boolean> {
  const { rows } = await run<{ entryId: string }>(
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
     SELECT id, $3::"EntryStatus", status, $2, $7, $8, 'FAILED', $4, CASE WHEN status = 'FAILED' THEN NULL ELSE "runAt" END
       FROM failed
     RETURNING "entryId"`,
    [entry.id, workerId, entry.status, message, retryDelayMs, CANCELLED, entry.attempts, entry.lockedAt],
  );
  return rows.length > 0;
}

/** Gives back locks this worker holds without finishing their stage (shutdown): they resume elsewhere. */
export async function releaseLocks(workerId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await run(
    `UPDATE "Entry" SET "lockedBy" = NULL, "lockedAt" = NULL, attempts = greatest(attempts - 1, 0), version = version + 1, "updatedAt" = now()
      WHERE id = ANY($1::uuid[]) AND "lockedBy" = $2`,
    [ids, workerId],
  );
  return rowCount ?? 0;
}

/** Every recorded stage execution of one entry, oldest first. */
export async function listStageExecutions(id: string) {
  await getEntry(id);
  const executions = await prisma.stageExecution.findMany({ where: { entryId: id }, orderBy: { id: "asc" } });
  return executions.map(({ id: executionId, ...rest }) => ({ id: Number(executionId), ...rest }));
}

// ── Operations ────────────────────────────────────────────────────────────────────────────────

/** How a lock looks from outside: who holds it, since when, until when, and whether it expired. */
export interface LockHealth {
  holder: string;
  since: Date;
  expiresAt: Date;
  expired: boolean;
}

export function lockHealth(
  entry: Pick<Entry | EntryRow, "lockedBy" | "lockedAt">,
  lockTtlMs: number,
  now = Date.now(),
): LockHealth | null {
  if (!entry.lockedBy || !entry.lockedAt) return null;
  const since = new Date(entry.lockedAt);
  const expiresAt = new Date(since.getTime() + lockTtlMs);
  return { holder: entry.lockedBy, since, expiresAt, expired: expiresAt.getTime() <= now };
}

/** An entry as the API answers it: the row plus its lock health. */
export function toEntryJson(entry: Entry | EntryRow, lockTtlMs: number) {
  return { ...entry, lock: lockHealth(entry, lockTtlMs) };
}

// Each operation reads the entry once (404, and the reason for a 409), then writes with a
// condition that re-checks that reason, returning the row it wrote.

/** FAILED → queued again from the stage after its last completed one, attempts reset. */
export async function retryEntry(id: string): Promise<Entry> {
  const current = await getEntry(id);
  if (current.status !== "FAILED") throw conflict(`Only FAILED entries can be retried; this one is ${current.status}`);
  const { rows } = await run<Entry>(
    `WITH retried AS (
       UPDATE "Entry"
          SET status = $2::"EntryStatus", error = NULL, attempts = 0, "runAt" = now(), "cancelRequestedAt" = NULL,
              "lockedBy" = NULL, "lockedAt" = NULL, version = version + 1, "updatedAt" = now()
        WHERE id = $1 AND status = 'FAILED'
       RETURNING *
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
export async function cancelEntry(id: string, lockTtlMs: number): Promise<Entry> {
  const current = await getEntry(id);
  if (isTerminal(current.status)) throw conflict(`A ${current.status} entry cannot be cancelled`);
  const { rows } = await run<Entry>(
    `WITH e AS (
       SELECT id, ("lockedBy" IS NULL OR "lockedAt" < now() - make_interval(secs => $2::float8 / 1000)) AS free
         FROM "Entry" WHERE id = $1
     )
     UPDATE "Entry" AS x
        SET "cancelRequestedAt" = now(),
            status = CASE WHEN e.free THEN 'FAILED' ELSE x.status END,
            error = CASE WHEN e.free THEN $3 ELSE x.error END,
            "lockedBy" = CASE WHEN e.free THEN NULL ELSE x."lockedBy" END,
            "lockedAt" = CASE WHEN e.free THEN NULL ELSE x."lockedAt" END,
            version = x.version + 1, "updatedAt" = now()
       FROM e
      WHERE x.id = e.id AND x.status IN ('CREATED', 'STAGE_1', 'STAGE_2')
     RETURNING x.*`,
    [id, lockTtlMs, CANCELLED],
  );
  if (!rows[0]) throw conflict("The entry finished meanwhile");
  return rows[0];
}

/**
 * An operator frees a lock whose holder is gone. Refused while the holder's heartbeat is fresh:
 * a live worker refreshes its locks every TTL/3, so a lock not refreshed for two of those periods
 * belongs to a worker that stopped beating.
 */
export async function releaseEntryLock(id: string, lockTtlMs: number): Promise<Entry> {
  const current = await getEntry(id);
  if (!current.lockedBy) throw conflict("This entry is not locked");
  const { rows } = await run<Entry>(
    `WITH released AS (
       UPDATE "Entry" SET "lockedBy" = NULL, "lockedAt" = NULL, version = version + 1, "updatedAt" = now()
        WHERE id = $1 AND "lockedBy" IS NOT NULL AND "lockedAt" < now() - make_interval(secs => $2::float8 / 1000)
       RETURNING *
     )
     SELECT released.* FROM released, pg_notify('entry_ready', '')`,
    [id, Math.round((2 * lockTtlMs) / 3)],
  );
  if (!rows[0]) {
    throw conflict(`The holder (${current.lockedBy}) is still alive: its heartbeat is fresh. Wait for it or stop that worker.`);
  }
  return rows[0];
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
  const [counts, [waiting], [minute]] = await Promise.all([
    statusCounts(),
    prisma.$queryRaw<{ oldest: Date | null; now: Date }[]>`
      SELECT min("runAt") AS oldest, now() AS now FROM "Entry"
       WHERE status IN ('CREATED', 'STAGE_1', 'STAGE_2') AND "runAt" <= now() AND "lockedBy" IS NULL`,
    prisma.$queryRaw<{ succeeded: bigint; failed: bigint; completed: bigint }[]>`
      SELECT count(*) FILTER (WHERE outcome = 'SUCCEEDED') AS succeeded,
             count(*) FILTER (WHERE outcome = 'FAILED') AS failed,
             count(*) FILTER (WHERE outcome = 'SUCCEEDED' AND "toStatus" = 'COMPLETED') AS completed
        FROM "StageExecution" WHERE "finishedAt" > now() - interval '1 minute'`,
  ]);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const stagesCompleted = Number(minute?.succeeded ?? 0);
  return {
    counts,
    total,
    queueDepth: total - counts.COMPLETED - counts.FAILED,
    oldestWaitingSeconds: waiting?.oldest ? Math.max(0, (waiting.now.getTime() - waiting.oldest.getTime()) / 1000) : 0,
    lastMinute: {
      stagesCompleted,
      stagesFailed: Number(minute?.failed ?? 0),
      entriesCompleted: Number(minute?.completed ?? 0),
      perSecond: Math.round((stagesCompleted / 60) * 100) / 100,
    },
  };
}

// ── Workers ───────────────────────────────────────────────────────────────────────────────────

export async function recordWorkerAlive(workerId: string, hostname: string, pid: number): Promise<void> {
  await run(
    `INSERT INTO "Worker" (id, hostname, pid) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET "lastSeenAt" = now(), "stoppedAt" = NULL`,
    [workerId, hostname, pid],
  );
}

export async function recordWorkerStopped(workerId: string): Promise<void> {
  await run(`UPDATE "Worker" SET "stoppedAt" = now(), "lastSeenAt" = now() WHERE id = $1`, [workerId]);
}

/** Workers seen within `withinMs` and not stopped. */
export async function liveWorkers(withinMs: number) {
  return prisma.worker.findMany({
    where: { stoppedAt: null, lastSeenAt: { gt: new Date(Date.now() - withinMs) } },
    orderBy: { startedAt: "asc" },
  });
}
