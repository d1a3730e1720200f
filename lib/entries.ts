import { config } from "@/lib/config";
import { pool, prisma } from "@/lib/db";
import { ApiError, conflict, notFound } from "@/lib/errors";
import type { Entry, EntryStatus } from "@/lib/generated/prisma/client";
import { jsonTypes } from "@/lib/pg-types";
import { holderIsAliveSql, lockIsFreeSql, recentWorkers, WORKER_DEAD_AFTER_MS, workerIdOf } from "@/lib/server/worker/liveness";
import { CANCELLED_ERROR, canTransition, isTerminal, PROGRESS, resumeStatus, STATUSES } from "@/lib/stages";
import type { Jsonified } from "@/lib/utils";
import { encodeCursor, type ListEntriesQuery, type UpdateEntryInput } from "@/lib/validation";

// Every query the API makes on entries lives here (the worker's own statements sit beside it, in
// lib/server/worker/queries.ts).

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

/**
 * The internal manual edit. Refused while a live worker holds the row (409), when If-Match names
 * another version (412), and for any move the state machine does not allow (409). The write itself
 * is a compare-and-set on the version read here, and it clears an abandoned lock (same rule as the
 * worker's claims), so neither a manual edit nor a stale worker can overwrite the other unnoticed.
 */
export async function updateEntry(id: string, input: UpdateEntryInput, ifMatch: string | null): Promise<Entry> {
  const [current, rule] = await Promise.all([getEntry(id), currentLockRule()]);
  if (ifMatch !== null && !etagMatches(ifMatch, current)) {
    throw new ApiError(412, "precondition_failed", `The entry has changed: it is at version ${etagOf(current)}`);
  }
  if (lockHealth(current, rule)?.expired === false) {
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
    changedStatus && status === "COMPLETED" ? { completedAt: new Date().toISOString(), message: "Completed by an operator" } : null;
  const error = changedStatus && status === "FAILED" ? "Failed by an operator" : null;

  const { rows } = await pool.query<Entry>(
    `UPDATE "Entry" AS e
        SET status = $3::"EntryStatus", progress = $4, result = COALESCE($5::jsonb, e.result), error = COALESCE($6, e.error),
            attempts = CASE WHEN $7 THEN 0 ELSE e.attempts END, "runAt" = CASE WHEN $7 THEN now() ELSE e."runAt" END,
            "lockedBy" = NULL, "lockedAt" = NULL, version = e.version + 1, "updatedAt" = now()
      WHERE e.id = $1 AND e.version = $2 AND ${lockIsFreeSql("$8")}
     RETURNING e.*`,
    [id, current.version, status, progress, result && JSON.stringify(result), error, changedStatus, config.LOCK_TTL_MS],
  );
  if (!rows[0]) {
    const now = await getEntry(id);
    if (ifMatch !== null) throw new ApiError(412, "precondition_failed", `The entry has changed: it is at version ${etagOf(now)}`);
    throw conflict("The entry changed while it was being updated; read it again and retry");
  }
  return rows[0];
}

function etagMatches(header: string, entry: Entry) {
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etagOf(entry));
}

/** Every recorded stage execution of one entry, oldest first. */
export async function listStageExecutions(id: string) {
  await getEntry(id);
  const executions = await prisma.stageExecution.findMany({ where: { entryId: id }, orderBy: { id: "asc" } });
  return executions.map(({ id: executionId, ...rest }) => ({ id: Number(executionId), ...rest }));
}

// ── Operations ────────────────────────────────────────────────────────────────────────────────

/** How a lock looks from outside: who holds it, since when, whether that holder lives, and whether the lock is abandoned. */
export interface LockHealth {
  holder: string;
  since: Date;
  /** When the lock lapses by age alone (LOCK_TTL_MS), the last resort. */
  expiresAt: Date;
  /** Whether the holder's worker process is alive; null when it cannot be told (no Worker row). */
  holderAlive: boolean | null;
  /** Anyone may take it: the holder is dead or the lock is older than the TTL. */
  expired: boolean;
}

/** What tells an abandoned lock: the TTL, and which recent workers are alive (worker id → alive). */
export interface LockRule {
  ttlMs: number;
  workers: ReadonlyMap<string, boolean>;
}

export function lockHealth(entry: Pick<Entry | EntryRow, "lockedBy" | "lockedAt">, rule: LockRule, now = Date.now()): LockHealth | null {
  if (!entry.lockedBy || !entry.lockedAt) return null;
  const since = new Date(entry.lockedAt);
  const expiresAt = new Date(since.getTime() + rule.ttlMs);
  const holderAlive = rule.workers.get(workerIdOf(entry.lockedBy)) ?? null;
  return { holder: entry.lockedBy, since, expiresAt, holderAlive, expired: expiresAt.getTime() <= now || holderAlive === false };
}

let lockRuleCache: { at: number; rule: Promise<LockRule> } | undefined;

/**
 * The lock rule as of at most a second ago: one small query a second per process rather than one
 * per request (the 2 s poll reads it for every page). Workers live or die on a 10 s scale.
 */
export function currentLockRule(): Promise<LockRule> {
  const now = Date.now();
  if (!lockRuleCache || now - lockRuleCache.at > 1000) {
    const ttlMs = config.LOCK_TTL_MS;
    // A holder silent for longer than the TTL has no lock the TTL does not already free.
    const rule = recentWorkers(ttlMs + WORKER_DEAD_AFTER_MS).then((workers) => ({ ttlMs, workers }));
    const entry = { at: now, rule };
    lockRuleCache = entry;
    rule.catch(() => {
      if (lockRuleCache === entry) lockRuleCache = undefined;
    });
  }
  return lockRuleCache.rule;
}

/** An entry as the API answers it: the row plus its lock health. */
export function toEntryJson(entry: Entry | EntryRow, rule: LockRule) {
  return { ...entry, lock: lockHealth(entry, rule) };
}

/** One entry as the API answers it, with the current lock rule. */
export async function entryJson(entry: Entry | EntryRow) {
  return toEntryJson(entry, await currentLockRule());
}

// Each operation reads the entry once (404, and the reason for a 409), then writes with a
// condition that re-checks that reason, returning the row it wrote.

/** FAILED → queued again from the stage after its last completed one, attempts reset. */
export async function retryEntry(id: string): Promise<Entry> {
  const current = await getEntry(id);
  if (current.status !== "FAILED") throw conflict(`Only FAILED entries can be retried; this one is ${current.status}`);
  const { rows } = await pool.query<Entry>(
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
export async function cancelEntry(id: string): Promise<Entry> {
  const current = await getEntry(id);
  if (isTerminal(current.status)) throw conflict(`A ${current.status} entry cannot be cancelled`);
  const { rows } = await pool.query<Entry>(
    `WITH cur AS (
       SELECT e.id, ${lockIsFreeSql("$2")} AS free FROM "Entry" e WHERE e.id = $1
     )
     UPDATE "Entry" AS x
        SET "cancelRequestedAt" = now(),
            status = CASE WHEN cur.free THEN 'FAILED' ELSE x.status END,
            error = CASE WHEN cur.free THEN $3 ELSE x.error END,
            "lockedBy" = CASE WHEN cur.free THEN NULL ELSE x."lockedBy" END,
            "lockedAt" = CASE WHEN cur.free THEN NULL ELSE x."lockedAt" END,
            version = x.version + 1, "updatedAt" = now()
       FROM cur
      WHERE x.id = cur.id AND x.status IN ('CREATED', 'STAGE_1', 'STAGE_2')
     RETURNING x.*`,
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
export async function releaseEntryLock(id: string): Promise<Entry> {
  const current = await getEntry(id);
  if (!current.lockedBy) throw conflict("This entry is not locked");
  const ttlMs = config.LOCK_TTL_MS;
  const { rows } = await pool.query<Entry>(
    `WITH released AS (
       UPDATE "Entry" AS e SET "lockedBy" = NULL, "lockedAt" = NULL, version = e.version + 1, "updatedAt" = now()
        WHERE e.id = $1 AND e."lockedBy" IS NOT NULL
          AND (${lockIsFreeSql("$2")} OR (NOT ${holderIsAliveSql(`e."lockedBy"`)} AND e."lockedAt" < now() - make_interval(secs => $3::float8 / 1000)))
       RETURNING e.*
     )
     SELECT released.* FROM released, pg_notify('entry_ready', '')`,
    [id, ttlMs, Math.round((2 * ttlMs) / 3)],
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
