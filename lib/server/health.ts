import "server-only";
import { pool } from "@/lib/server/db";
import { entryChangeFeed, type LiveMode } from "@/lib/server/live-feed";
import { readMigrations } from "@/lib/server/migrate";
import { liveWorkerIds } from "@/lib/server/worker/liveness";

export interface Readiness {
  ready: boolean;
  checks: { database: boolean; migrations: boolean; worker: boolean };
  detail: {
    pendingMigrations: string[];
    liveWorkers: string[];
    /** How changes reach this server's live stream: notifications, or its own polling while LISTEN is deaf. Not a failure either way. */
    liveUpdates: LiveMode;
    error?: string;
  };
}

let expectedMigrations: Promise<string[]> | undefined;

/** Ready = the database answers, every migration on disk is applied, and some worker is alive (the claims' own rule). */
export async function readiness(): Promise<Readiness> {
  const checks = { database: false, migrations: false, worker: false };
  const detail: Readiness["detail"] = { pendingMigrations: [], liveWorkers: [], liveUpdates: entryChangeFeed.mode };
  try {
    expectedMigrations ??= readMigrations().then((all) => all.map((m) => m.name));
    const [expected, applied, workers] = await Promise.all([
      expectedMigrations,
      pool
        .query<{ migration_name: string }>(
          `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        )
        .then((r) => r.rows),
      liveWorkerIds(),
    ]);
    checks.database = true;
    const done = new Set(applied.map((r) => r.migration_name));
    detail.pendingMigrations = expected.filter((name) => !done.has(name));
    checks.migrations = detail.pendingMigrations.length === 0;
    detail.liveWorkers = workers;
    checks.worker = workers.length > 0;
  } catch {
    detail.error = "database unreachable";
  }
  return { ready: checks.database && checks.migrations && checks.worker, checks, detail };
}
