import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { stopProcess, tracked } from "./server";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
}

/** Starts `scripts/worker.ts` (what `npm run worker` runs) as its own process. */
export function startWorkerProcess(databaseUrl: string, env: Record<string, string> = {}): WorkerProcess {
  // `node --import tsx` (not the tsx CLI, which forks a second process) so that the pid is the
  // worker's own and SIGKILL really kills it.
  const child = tracked(
    spawn(process.execPath, ["--import", "tsx", "scripts/worker.ts"], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "production", LOG_LEVEL: "warn", DATABASE_URL: databaseUrl, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, pid: child.pid!, output: () => output, exited, stop: () => stopProcess(child, 15_000) };
}

/** Inserts `n` entries in one statement (like a burst of creates while no worker runs). */
export async function insertBacklog(pool: import("pg").Pool, n: number, prefix = "backlog"): Promise<void> {
  await pool.query(`INSERT INTO "Entry" (title) SELECT $1 || ' ' || g FROM generate_series(1, $2) g`, [prefix, n]);
}

export interface ExecutionAudit {
  entries: number;
  byStatus: Record<string, number>;
  lockedRows: number;
  /** (entry, stage) pairs with other than exactly one successful execution. */
  stagesNotExactlyOnce: number;
  workersSeen: string[];
}

/** What the chaos and race tests assert on: statuses, locks left, exactly-once per stage. */
export async function auditExecutions(pool: import("pg").Pool): Promise<ExecutionAudit> {
  const statuses = await pool.query(`SELECT status, count(*)::int AS n FROM "Entry" GROUP BY status`);
  const locked = await pool.query(`SELECT count(*)::int AS n FROM "Entry" WHERE "lockedBy" IS NOT NULL`);
  // For every entry, each stage it passed (told by its progress, which FAILED keeps) must have
  // exactly one SUCCEEDED execution, and no other stage any.
  const wrong = await pool.query(`
    WITH expected AS (
      SELECT e.id, s.stage FROM "Entry" e
      CROSS JOIN LATERAL unnest((ARRAY['CREATED','STAGE_1','STAGE_2'])[1:e.progress / 33]) AS s(stage)
    ), done AS (
      SELECT "entryId" AS id, "fromStatus"::text AS stage, count(*) AS n
        FROM "StageExecution" WHERE outcome = 'SUCCEEDED' GROUP BY 1, 2
    )
    SELECT count(*)::int AS n FROM expected FULL JOIN done USING (id, stage)
     WHERE expected.id IS NULL OR done.n IS DISTINCT FROM 1`);
  const workers = await pool.query(`SELECT DISTINCT "workerId" FROM "StageExecution" ORDER BY 1`);
  const byStatus = Object.fromEntries(statuses.rows.map((r) => [r.status, r.n]));
  return {
    entries: Object.values(byStatus).reduce((a: number, b) => a + (b as number), 0),
    byStatus,
    lockedRows: locked.rows[0].n,
    stagesNotExactlyOnce: wrong.rows[0].n,
    workersSeen: workers.rows.map((r) => r.workerId),
  };
}

export interface LoggedReclaim {
  entries: number;
  /** Lock tokens (`<worker id>#<claim>`) of the holders whose locks were taken over. */
  holders: string[];
}

/** Every lock reclaim a process logged (its JSON log lines at warn level). */
export function reclaimsLogged(output: string): LoggedReclaim[] {
  return output
    .split("\n")
    .filter((line) => line.includes('"msg":"reclaimed locks'))
    .map((line) => {
      const { entries, holders } = JSON.parse(line) as LoggedReclaim;
      return { entries, holders };
    });
}
