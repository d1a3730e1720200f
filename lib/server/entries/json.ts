import { config } from "@/lib/server/config";
import type { Entry, EntryRow } from "@/lib/server/entries/columns";
import { recentWorkers, WORKER_DEAD_AFTER_MS, workerIdOf } from "@/lib/server/worker/liveness";

// An entry as the API answers it: the row, plus the health of its lock; and its ETag.

/** The entity tag of an entry's current version. */
export const etagOf = (entry: Pick<Entry, "version">) => `"v${entry.version}"`;

/** Whether an If-Match header names this entry's current version. */
export function etagMatches(header: string, entry: Entry) {
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etagOf(entry));
}

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
