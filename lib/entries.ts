import { config } from "@/lib/config";
import { pool } from "@/lib/db";
import { ApiError, conflict, notFound } from "@/lib/errors";
import type { Entry, EntryStatus, StageExecution } from "@/lib/generated/prisma/client";
import { holderIsAliveSql, lockIsFreeSql, recentWorkers, WORKER_DEAD_AFTER_MS, workerIdOf } from "@/lib/server/worker/liveness";
import { CANCELLED_ERROR, canTransition, isTerminal, PROGRESS, resumeStatus, STATUSES } from "@/lib/stages";
import type { Jsonified } from "@/lib/utils";
import { encodeCursor, type ListEntriesQuery, type UpdateEntryInput } from "@/lib/validation";

// Every query the API makes on entries lives here (the worker's own statements sit beside it, in
// lib/server/worker/queries.ts).

export type { Entry, EntryStatus };

export type StatusCounts = Record<EntryStatus, number>;

/** An entry read for the API's JSON only: its timestamps already ISO strings (see isoTextSql). */
export type EntryRow = Jsonified<Entry>;

// Every query here is SQL on the pg pool, whose parser reads timestamptz correctly in any session
// time zone. Prisma's client (through @prisma/adapter-pg) reads and writes them as if the session were
// UTC (prisma/orm#26786, #28629), and behind a transaction-mode pooler nothing can make it so.
// schema.prisma stays the source of the schema, the migrations' format and these types.

// Statements name the columns they return: "Entry" also has the live feed's cursor ("changeTxid"),
// which no answer carries. The compiler checks this list against the model, both ways.
const ENTRY_FIELD_SET: Record<keyof Entry, true> = {
  id: true, title: true, status: true, progress: true, lockedBy: true, lockedAt: true, result: true, error: true,
  attempts: true, runAt: true, version: true, cancelRequestedAt: true, createdAt: true, updatedAt: true,
};
const ENTRY_FIELDS = Object.keys(ENTRY_FIELD_SET);
/** The select list of a whole entry, for "Entry" aliased `e`. */
export const ENTRY_COLUMNS = ENTRY_FIELDS.map((f) => `e."${f}"`).join(", ");

type DateFields<T> = { [K in keyof T]-?: Date extends T[K] ? K : never }[keyof T];
// Every timestamp field, checked by the compiler against the model (a missing or extra one fails to build).
const TIMESTAMP_FIELDS: Record<DateFields<Entry>, true> = { lockedAt: true, runAt: true, cancelRequestedAt: true, createdAt: true, updatedAt: true };

/**
 * SQL: a timestamptz as the ISO text Date#toJSON gives ("2026-11-29T07:29:01.807Z"), whatever the
 * session's time zone. The 2 s poll reads its rows this way: strings go through JSON.stringify on
 * V8's fast path, where Dates (objects with toJSON) took four times as long.
 */
export const isoTextSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const ENTRY_JSON_COLUMNS = ENTRY_FIELDS.map((f) => (f in TIMESTAMP_FIELDS ? `${isoTextSql(`e."${f}"`)} AS "${f}"` : `e."${f}"`)).join(", ");

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

export async function createEntry(title: string): Promise<Entry> {
  const { rows } = await pool.query<Entry>(`INSERT INTO "Entry" AS e (title) VALUES ($1) RETURNING ${ENTRY_COLUMNS}`, [title]);
  return rows[0]!;
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
  // Ordered by the table's columns (e."createdAt"), not by the text of the same name in the select list.
  const pageSql = `SELECT ${ENTRY_JSON_COLUMNS} FROM "Entry" e ${where} ORDER BY e."createdAt" DESC, e.id DESC LIMIT ${param(limit)} OFFSET ${param(cursor ? 0 : offset)}`;

  const [page, counts, searchTotal] = await Promise.all([
    pool.query<EntryRow>(pageSql, values),
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

/** An entry as the live feed reads it: with the transaction that wrote this version. */
export type ChangedEntry = EntryRow & { changeTxid: string };

export interface Changes {
  /** The snapshot this read saw: pass it to the next read. */
  snapshot: string;
  entries: ChangedEntry[];
  /** More than `limit` entries changed: `entries` is empty, and a reader should start over from the list. */
  overflow: boolean;
}

/**
 * The live feed's read: every entry written by a transaction that `since` — the snapshot of the
 * previous read (pg_current_snapshot) — could not see: one started after it (txid ≥ its xmax) or
 * still running then (one of its xip). Each entry version therefore comes out of exactly one read,
 * whatever the size of a burst, however many rows share a timestamp, and however late a transaction
 * commits. Rows and snapshot come from one statement, so from one snapshot.
 */
export async function readChanges(since: string, limit: number): Promise<Changes> {
  const { rows } = await pool.query<ChangedEntry & { snapshot: string }>(
    `WITH snap AS (SELECT pg_current_snapshot() AS s)
     SELECT snap.s::text AS snapshot, changed.* FROM snap LEFT JOIN LATERAL (
       SELECT ${ENTRY_JSON_COLUMNS}, e."changeTxid"::text AS "changeTxid" FROM "Entry" e
        WHERE e."changeTxid" >= pg_snapshot_xmax($1::pg_snapshot)
           OR e."changeTxid" = ANY(ARRAY(SELECT pg_snapshot_xip($1::pg_snapshot)))
        ORDER BY e."changeTxid", e.id
        LIMIT $2
     ) changed ON true`,
    [since, limit + 1],
  );
  const snapshot = rows[0]!.snapshot;
  const entries = rows.filter((r) => r.id !== null).map(({ snapshot: _, ...entry }) => entry);
  return entries.length > limit ? { snapshot, entries: [], overflow: true } : { snapshot, entries, overflow: false };
}

/** The database's snapshot right now: a reader's starting point. */
export async function currentSnapshot(): Promise<string> {
  const { rows } = await pool.query<{ snapshot: string }>(`SELECT pg_current_snapshot()::text AS snapshot`);
  return rows[0]!.snapshot;
}

/**
 * Whether a transaction's effects are visible in a snapshot (PostgreSQL's own rule for the
 * `xmin:xmax:xip,…` text of pg_snapshot): finished before xmax and not among those in progress.
 */
export function visibleIn(snapshot: string, txid: string): boolean {
  const [xmin = "0", xmax = "0", xip = ""] = snapshot.split(":");
  const t = BigInt(txid);
  if (t < BigInt(xmin)) return true;
  return t < BigInt(xmax) && !xip.split(",").some((x) => x !== "" && BigInt(x) === t);
}

/** Entries changed after `since`, oldest change first: the change-only poll (GET ?updatedSince=). */
export async function listChangedSince(since: Date, limit: number): Promise<Entry[]> {
  const { rows } = await pool.query<Entry>(
    `SELECT ${ENTRY_COLUMNS} FROM "Entry" e WHERE e."updatedAt" > $1 ORDER BY e."updatedAt", e.id LIMIT $2`,
    [since, limit],
  );
  return rows;
}

export async function getEntry(id: string): Promise<Entry> {
  const { rows } = await pool.query<Entry>(`SELECT ${ENTRY_COLUMNS} FROM "Entry" e WHERE e.id = $1`, [id]);
  if (!rows[0]) throw notFound();
  return rows[0];
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
     RETURNING ${ENTRY_COLUMNS}`,
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
export async function cancelEntry(id: string): Promise<Entry> {
  const current = await getEntry(id);
  if (isTerminal(current.status)) throw conflict(`A ${current.status} entry cannot be cancelled`);
  const { rows } = await pool.query<Entry>(
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
      WHERE e.id = cur.id AND e.status IN ('CREATED', 'STAGE_1', 'STAGE_2')
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
export async function releaseEntryLock(id: string): Promise<Entry> {
  const current = await getEntry(id);
  if (!current.lockedBy) throw conflict("This entry is not locked");
  const ttlMs = config.LOCK_TTL_MS;
  const { rows } = await pool.query<Entry>(
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
  const [counts, waiting, minute] = await Promise.all([
    statusCounts(),
    // Waiting: due, and free for a worker to take (never claimed, or its holder gone).
    pool.query<{ seconds: number | null }>(
      `SELECT extract(epoch FROM now() - min(e."runAt"))::float8 AS seconds FROM "Entry" e
        WHERE e.status IN ('CREATED', 'STAGE_1', 'STAGE_2') AND e."runAt" <= now() AND ${lockIsFreeSql("$1")}`,
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
