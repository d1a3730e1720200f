import { pool } from "@/lib/server/db";
import { ENTRY_JSON_COLUMNS, type EntryRow } from "@/lib/server/entries/columns";

// The live feed's reads: what changed since the previous read, by transaction snapshot.

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
