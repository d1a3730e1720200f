import { prisma } from "@/lib/db";
import { notFound } from "@/lib/errors";
import type { Entry, EntryStatus } from "@/lib/generated/prisma/client";
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

export async function updateEntry(id: string, input: UpdateEntryInput): Promise<Entry> {
  const { count } = await prisma.entry.updateMany({ where: { id }, data: input });
  if (count === 0) throw notFound();
  return getEntry(id);
}

// ── Worker ────────────────────────────────────────────────────────────────────────────────────

/**
 * Claims one entry for its next stage, atomically: the conditional UPDATE succeeds only if nobody
 * holds the row or the holder's lock is older than the TTL. Returns null when not claimed.
 */
export async function claimEntry(id: string, workerId: string, lockTtlMs: number): Promise<Entry | null> {
  const rows = await prisma.$queryRaw<Entry[]>`
    UPDATE "Entry"
       SET "lockedBy" = ${workerId}, "lockedAt" = now(), "updatedAt" = now()
     WHERE id = ${id}::uuid
       AND status IN ('CREATED', 'STAGE_1', 'STAGE_2')
       AND ("lockedBy" IS NULL OR "lockedAt" < now() - make_interval(secs => ${lockTtlMs / 1000}))
    RETURNING *`;
  return rows[0] ?? null;
}

export interface Advance {
  id: string;
  from: EntryStatus;
  to: EntryStatus;
  progress: number;
  result: object | null;
}

/**
 * Moves entries to their next stage and releases their locks, in one statement for the whole batch.
 * Only rows this worker still holds, still in the status the work started from, are touched: a
 * worker whose lock expired and was taken over writes nothing. Returns the ids that advanced.
 */
export async function advanceEntries(workerId: string, advances: Advance[]): Promise<string[]> {
  if (advances.length === 0) return [];
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    UPDATE "Entry" AS e
       SET status = t.next_status, progress = t.progress, result = COALESCE(t.result, e.result),
           "lockedBy" = NULL, "lockedAt" = NULL, "updatedAt" = now()
      FROM unnest(${advances.map((a) => a.id)}::uuid[],
                  ${advances.map((a) => a.from)}::"EntryStatus"[],
                  ${advances.map((a) => a.to)}::"EntryStatus"[],
                  ${advances.map((a) => a.progress)}::int[],
                  ${advances.map((a) => (a.result ? JSON.stringify(a.result) : null))}::jsonb[])
           AS t(id, from_status, next_status, progress, result)
     WHERE e.id = t.id AND e."lockedBy" = ${workerId} AND e.status = t.from_status
    RETURNING e.id`;
  return rows.map((r) => r.id);
}

/** Ends an entry as FAILED, keeping the error's message; only while this worker holds it. */
export async function failEntry(id: string, workerId: string, message: string): Promise<boolean> {
  const count = await prisma.$executeRaw`
    UPDATE "Entry"
       SET status = 'FAILED', error = ${message}, "lockedBy" = NULL, "lockedAt" = NULL, "updatedAt" = now()
     WHERE id = ${id}::uuid AND "lockedBy" = ${workerId}`;
  return count > 0;
}
