import { pool, type Queryable } from "@/lib/server/db";
import { ENTRY_COLUMNS, type Entry } from "@/lib/server/entries/columns";

/** A new entry, CREATED with progress 0; its insert wakes idle workers (NOTIFY entry_ready, a trigger). */
export async function createEntry(title: string, db: Queryable = pool): Promise<Entry> {
  const { rows } = await db.query<Entry>(`INSERT INTO "Entry" AS e (title) VALUES ($1) RETURNING ${ENTRY_COLUMNS}`, [title]);
  return rows[0]!;
}
