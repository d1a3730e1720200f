import "server-only";
import { pool } from "@/lib/server/db";
import { ENTRY_JSON_COLUMNS, type EntryRow } from "@/lib/server/entries/columns";
import { statusCounts, type StatusCounts } from "@/lib/server/entries/stats";
import { encodeCursor, type ListEntriesQuery } from "@/lib/validation";

// The list behind the page and its 2 s poll: a page newest first, its exact total, and the counts
// per status for the filters.

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
