import { config } from "@/lib/config";
import { advanceEntries, claimEntry, failEntry, type Entry } from "@/lib/entries";
import { PROGRESS, nextStatus } from "@/lib/stages";

// The stage worker, as the spec describes it: for each stage, claim the row's lock, do the stage's
// work (a delay), advance status and progress while still holding the lock, release it. Repeat
// until the entry is COMPLETED. A worker that lost its lock stops touching the row.

export interface WorkerOptions {
  workerId: string;
  stageDelayMs: number;
  lockTtlMs: number;
}

const defaults = (): WorkerOptions => ({
  workerId: config.workerId,
  stageDelayMs: config.STAGE_DELAY_MS,
  lockTtlMs: config.LOCK_TTL_MS,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one entry through all its remaining stages. Never rejects: failures end as FAILED. */
export async function processEntry(id: string, options: WorkerOptions = defaults()): Promise<void> {
  try {
    for (;;) {
      const entry = await claimEntry(id, options.workerId, options.lockTtlMs);
      if (!entry) return; // finished, or held by another worker
      const advanced = await runStage(entry, options);
      if (!advanced) return; // lost the lock meanwhile: the new holder carries on
    }
  } catch (error) {
    console.error(`worker ${options.workerId}: entry ${id} could not be processed`, error);
  }
}

async function runStage(entry: Entry, options: WorkerOptions): Promise<boolean> {
  const to = nextStatus(entry.status);
  if (!to) return false;
  try {
    await performStageWork(entry, options);
  } catch (error) {
    await failEntry(entry.id, options.workerId, error instanceof Error ? error.message : String(error));
    return false;
  }
  const result = to === "COMPLETED" ? { completedAt: new Date().toISOString(), message: "All stages completed" } : null;
  const advanced = await advanceEntries(options.workerId, [
    { id: entry.id, from: entry.status, to, progress: PROGRESS[to] ?? 0, result },
  ]);
  return advanced.length === 1;
}

/** The stage's work. The demo simulates it with a delay. */
async function performStageWork(_entry: Entry, options: WorkerOptions) {
  await sleep(options.stageDelayMs);
}
