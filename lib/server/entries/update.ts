import { config } from "@/lib/server/config";
import { pool } from "@/lib/server/db";
import { ApiError, conflict } from "@/lib/server/api-error";
import { ENTRY_COLUMNS, type Entry } from "@/lib/server/entries/columns";
import { currentLockRule, etagMatches, etagOf, lockHealth } from "@/lib/server/entries/json";
import { getEntry } from "@/lib/server/entries/reads";
import { lockIsFreeSql } from "@/lib/server/worker/liveness";
import { canTransition, PROGRESS } from "@/lib/stages";
import type { UpdateEntryInput } from "@/lib/validation";

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
