import { prisma } from "@/lib/db";
import { ApiError, conflict, notFound } from "@/lib/errors";
import { Prisma, type Entry, type EntryStatus } from "@/lib/generated/prisma/client";
import { canTransition, PROGRESS } from "@/lib/stages";
import type { ListEntriesQuery, UpdateEntryInput } from "@/lib/validation";

// Every query on entries lives here: the API's reads and writes first, then the worker's
// claim / advance / fail statements, each with its SQL in plain sight.

export type { Entry, EntryStatus };

export interface EntryPage {
  entries: Entry[];
  total: number;
  limit: number;
  offset: number;
}

// ── API ───────────────────────────────────────────────────────────────────────────────────────

export function createEntry(title: string): Promise<Entry> {
  return prisma.entry.create({ data: { title } });
}

/** Newest first; ties on createdAt broken by id so pages never overlap. */
export async function listEntries({ limit, offset }: ListEntriesQuery): Promise<EntryPage> {
  const [entries, total] = await prisma.$transaction([
    prisma.entry.findMany({ orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: limit, skip: offset }),
    prisma.entry.count(),
  ]);
  return { entries, total, limit, offset };
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
}

const ttl = (lockTtlMs: number) => Prisma.sql`make_interval(secs => ${lockTtlMs / 1000})`;

/**
 * Claims one entry for its next stage with the spec's conditional UPDATE: it succeeds only if
 * nobody holds the row or the holder's lock is older than the TTL. Null when not claimed.
 */
export async function claimEntry(id: string, workerId: string, lockTtlMs: number): Promise<ClaimedEntry | null> {
  const rows = await prisma.$queryRaw<ClaimedEntry[]>`
    UPDATE "Entry"
       SET "lockedBy" = ${workerId}, "lockedAt" = now(), attempts = attempts + 1, version = version + 1, "updatedAt" = now()
     WHERE id = ${id}::uuid
       AND status IN ('CREATED', 'STAGE_1', 'STAGE_2')
       AND "runAt" <= now()
       AND ("lockedBy" IS NULL OR "lockedAt" < now() - ${ttl(lockTtlMs)})
    RETURNING id, status, attempts, "lockedAt"`;
  return rows[0] ?? null;
}

/**
 * Claims up to `limit` due entries in one statement. SKIP LOCKED lets many workers run this at
 * once without waiting on each other's rows or ever taking the same one; the outer UPDATE re-checks
 * the lock condition, so a row changed since the inner SELECT is simply left out.
 */
export async function claimEntries(workerId: string, lockTtlMs: number, limit: number): Promise<ClaimedEntry[]> {
  return prisma.$queryRaw<ClaimedEntry[]>`
    WITH due AS (
      SELECT id FROM "Entry"
       WHERE status IN ('CREATED', 'STAGE_1', 'STAGE_2')
         AND "runAt" <= now()
         AND ("lockedBy" IS NULL OR "lockedAt" < now() - ${ttl(lockTtlMs)})
       ORDER BY "runAt"
       LIMIT ${limit}
         FOR UPDATE SKIP LOCKED
    )
    UPDATE "Entry" AS e
       SET "lockedBy" = ${workerId}, "lockedAt" = now(), attempts = e.attempts + 1, version = e.version + 1, "updatedAt" = now()
      FROM due
     WHERE e.id = due.id
    RETURNING e.id, e.status, e.attempts, e."lockedAt"`;
}

/** Keeps this worker's locks fresh while their stages run; returns the ids it still holds. */
export async function heartbeat(workerId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    UPDATE "Entry" SET "lockedAt" = now(), version = version + 1
     WHERE id = ANY(${ids}::uuid[]) AND "lockedBy" = ${workerId}
    RETURNING id`;
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
  const rows = await prisma.$queryRaw<{ entryId: string }[]>`
    WITH t AS (
      SELECT * FROM unnest(${advances.map((a) => a.entry.id)}::uuid[],
                           ${advances.map((a) => a.entry.status)}::"EntryStatus"[],
                           ${advances.map((a) => a.to)}::"EntryStatus"[],
                           ${advances.map((a) => a.progress)}::int[],
                           ${advances.map((a) => (a.result ? JSON.stringify(a.result) : null))}::jsonb[],
                           ${advances.map((a) => a.entry.attempts)}::int[],
                           ${advances.map((a) => a.entry.lockedAt)}::timestamptz[])
           AS t(id, from_status, to_status, progress, result, attempt, started_at)
    ), advanced AS (
      UPDATE "Entry" AS e
         SET status = t.to_status, progress = t.progress, result = COALESCE(t.result, e.result),
             error = NULL, attempts = 0, "lockedBy" = NULL, "lockedAt" = NULL, version = e.version + 1, "updatedAt" = now()
        FROM t
       WHERE e.id = t.id AND e."lockedBy" = ${workerId} AND e.status = t.from_status
      RETURNING t.*
    )
    INSERT INTO "StageExecution" ("entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", outcome)
    SELECT id, from_status, to_status, ${workerId}, attempt, started_at, 'SUCCEEDED' FROM advanced
    RETURNING "entryId"`;
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
 */
export async function failStage(workerId: string, { entry, message, retryDelayMs }: StageFailure): Promise<boolean> {
  const to: EntryStatus = retryDelayMs === null ? "FAILED" : entry.status;
  // The retry time is reckoned on the database's clock, the one claims compare runAt with, so
  // workers on hosts with skewed clocks still agree on when a retry is due.
  const rows = await prisma.$queryRaw<{ entryId: string }[]>`
    WITH params AS (
      SELECT now() + make_interval(secs => ${retryDelayMs ?? 0} / 1000.0) AS retry_at
    ), failed AS (
      UPDATE "Entry"
         SET status = ${to}::"EntryStatus", error = ${message},
             "runAt" = CASE WHEN ${retryDelayMs === null} THEN "runAt" ELSE (SELECT retry_at FROM params) END,
             "lockedBy" = NULL, "lockedAt" = NULL, version = version + 1, "updatedAt" = now()
       WHERE id = ${entry.id}::uuid AND "lockedBy" = ${workerId} AND status = ${entry.status}::"EntryStatus"
      RETURNING id
    )
    INSERT INTO "StageExecution" ("entryId", "fromStatus", "toStatus", "workerId", attempt, "startedAt", outcome, error, "retryAt")
    SELECT id, ${entry.status}::"EntryStatus", ${to}::"EntryStatus", ${workerId}, ${entry.attempts}, ${entry.lockedAt}, 'FAILED', ${message},
           CASE WHEN ${retryDelayMs === null} THEN NULL ELSE (SELECT retry_at FROM params) END
      FROM failed
    RETURNING "entryId"`;
  return rows.length > 0;
}

/** Gives back locks this worker holds without finishing their stage (shutdown): they resume elsewhere. */
export async function releaseLocks(workerId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return prisma.$executeRaw`
    UPDATE "Entry" SET "lockedBy" = NULL, "lockedAt" = NULL, attempts = greatest(attempts - 1, 0), version = version + 1, "updatedAt" = now()
     WHERE id = ANY(${ids}::uuid[]) AND "lockedBy" = ${workerId}`;
}

/** Every recorded stage execution of one entry, oldest first. */
export async function listStageExecutions(id: string) {
  await getEntry(id);
  const executions = await prisma.stageExecution.findMany({ where: { entryId: id }, orderBy: { id: "asc" } });
  return executions.map(({ id: executionId, ...rest }) => ({ id: Number(executionId), ...rest }));
}
