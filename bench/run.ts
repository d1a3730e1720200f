// `npm run bench [-- --quick] [-- --skip-build]`: measures the worker and the API on this machine,
// side by side in one run, and reports ratios (absolute times drift from run to run; ratios hold).
// Writes bench/results/latest.json and docs/benchmarks.md.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import pg from "pg";
import { ensureDatabase, startEmbeddedPostgres } from "../scripts/embedded-postgres";
import { migrate } from "../lib/server/migrate";

const ROOT = path.resolve(import.meta.dirname, "..");
const QUICK = process.argv.includes("--quick");
const SKIP_BUILD = process.argv.includes("--skip-build");
/** `--only=throughput,pickup,poll`: run only those parts (for checking a change; never published). */
const ONLY = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const PART = (name: "throughput" | "pickup" | "poll") => !ONLY || ONLY.includes(name);
const SIZES = QUICK
  ? { ceilingSeconds: 3, workerEntries: 4000, pickups: 150, pollSeconds: 3, pollRows: [1_000, 100_000, 1_000_000] }
  : { ceilingSeconds: 10, workerEntries: 20_000, pickups: 500, pollSeconds: 5, pollRows: [1_000, 100_000, 1_000_000] };
/** Each throughput configuration runs this many times, interleaved; the table shows the median. */
const REPEATS = QUICK ? 1 : 3;
/** Turns the poll and its control take at each table size (medians compared). */
const POLL_ROUNDS = QUICK ? 1 : 3;
const POOL = 20; // DB_POOL_SIZE's default: the connections one process (worker or web) may use
/** The worker as shipped: every setting at its default except the stage's simulated delay. */
const DEFAULTS_ENV = { STAGE_DELAY_MS: "0" };
/** Settings a user may tune for instant stages (README, "Performance"). */
const TUNED_ENV = { STAGE_DELAY_MS: "0", WORKER_CONCURRENCY: "2000", LOG_LEVEL: "warn" };
const WORKER_RUNS: { label: string; processes: number; env: Record<string, string> }[] = [
  { label: "defaults", processes: 1, env: DEFAULTS_ENV },
  { label: "defaults", processes: 2, env: DEFAULTS_ENV },
  { label: "defaults", processes: 4, env: DEFAULTS_ENV },
  { label: "tuned", processes: 1, env: TUNED_ENV },
  { label: "tuned", processes: 4, env: TUNED_ENV },
];

const log = (...args: unknown[]) => console.error("[bench]", ...args);
const children = new Set<ChildProcess>();

async function main() {
  const started = Date.now();
  // ── a database of its own ──
  let dataDir: string | undefined;
  let stopDb = async () => {};
  let url: string;
  if (process.env.DATABASE_URL) {
    const name = `aw_bench_${Date.now()}`;
    url = await ensureDatabase(process.env.DATABASE_URL, name);
    stopDb = async () => {
      const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end());
    };
  } else {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "aw-bench-pg-"));
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
    stopDb = server.stop;
    url = await server.ensureDatabase("aw_bench");
  }
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: POOL + 2 });
  pool.on("error", () => {}); // idle clients are cut when the database stops at the end
  const pgVersion = (await pool.query("SHOW server_version")).rows[0].server_version;

  if (!SKIP_BUILD && (PART("pickup") || PART("poll"))) {
    log("next build…");
    execFileSync(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "build"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" },
    });
  }

  const results: Record<string, unknown> = {};
  try {
    // ── 1. database ceilings: row-by-row autocommit UPDATEs of a plain table ──
    await pool.query(`CREATE TABLE bench_ceiling (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)`);
    await pool.query(`INSERT INTO bench_ceiling (id) SELECT g FROM generate_series(1, 1000) g`);
    if (PART("throughput")) {
      log("database ceilings: single-row autocommit UPDATEs…");
      const nodePg = await measureCeiling(url, SIZES.ceilingSeconds);
      const pgbench = measurePgbench(url, SIZES.ceilingSeconds);
      results.ceiling = { nodePg: { updatesPerSecond: nodePg, connections: POOL }, pgbench };
      log(`  node-postgres ${nodePg.toFixed(0)} /s; pgbench ${pgbench ? `${pgbench.updatesPerSecond.toFixed(0)} /s` : "not found"}`);

      // ── 2. worker throughput and the peer, same server; each configuration REPEATS times,
      //       interleaved (drift weighs on all alike), the median kept ──
      // The peer does as many jobs as the app did transitions, so both runs last about as long.
      // Each run's processes take two backlogs one after the other: the first as fresh processes
      // (each process's JIT warm-up falls inside the 2–3 s measured), the second as the same
      // processes warmed up, which is what a long-running deployment sees.
      const jobs = SIZES.workerEntries * 3;
      const configs: Omit<ThroughputRun, "perSecond" | "samples" | "fresh" | "freshSamples" | "peakRssMb" | "countsExact">[] = [
        ...WORKER_RUNS.map(({ label, processes }) => ({ system: "app" as const, label, processes })),
        ...([["default", 1], ["batched", 1], ["batched", 4]] as const).map(([label, processes]) => ({ system: "graphile-worker" as const, label, processes })),
      ];
      const samples = configs.map(() => ({ perSecond: [] as number[], fresh: [] as number[], peakRssMb: 0, countsExact: true }));
      // The configurations a target compares run next to each other (peer, 4, 1, 2 processes), so
      // that the machine's drift between them is smallest (it moves by a fifth within minutes); every
      // other repeat runs the order backwards, so neither side of a comparison always goes first.
      const order = ["graphile-worker batched 1", "app defaults 4", "app defaults 1", "app defaults 2", "app tuned 1", "app tuned 4", "graphile-worker batched 4", "graphile-worker default 1"]
        .map((name) => configs.findIndex((c) => `${c.system} ${c.label} ${c.processes}` === name));
      if (order.includes(-1) || order.length !== configs.length) throw new Error("bench: the run order must name every configuration once");
      let duplicateStages = 0;
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        for (const i of repeat % 2 === 0 ? order : order.toReversed()) {
          const config = configs[i]!;
          const sample = samples[i]!;
          if (config.system === "graphile-worker") {
            const run = await measureGraphile(url, pool, config.label as "default" | "batched", config.processes, jobs);
            sample.fresh.push(run.fresh);
            sample.perSecond.push(run.warmedUp);
          } else {
            const env = WORKER_RUNS.find((r) => r.label === config.label && r.processes === config.processes)!.env;
            const run = await measureApp(url, pool, config.processes, env);
            sample.fresh.push(run.fresh);
            sample.perSecond.push(run.warmedUp);
            sample.peakRssMb = Math.max(sample.peakRssMb, run.peakRssMb);
            sample.countsExact &&= run.countsExact;
            duplicateStages += run.duplicateStages;
          }
          log(`  ${config.system}, ${config.label}, ${config.processes} process(es): ${sample.fresh.at(-1)!.toFixed(0)} /s fresh, ${sample.perSecond.at(-1)!.toFixed(0)} /s warmed up`);
        }
      }
      const runs: ThroughputRun[] = configs.map((config, i) => ({
        ...config,
        perSecond: median(samples[i]!.perSecond),
        samples: samples[i]!.perSecond,
        fresh: median(samples[i]!.fresh),
        freshSamples: samples[i]!.fresh,
        peakRssMb: samples[i]!.peakRssMb,
        countsExact: samples[i]!.countsExact,
      }));
      results.throughput = { entries: SIZES.workerEntries, jobs, repeats: REPEATS, runs, duplicateStages };
    }

    // ── 3. pickup latency ──
    if (PART("pickup")) {
    await pool.query(`TRUNCATE "Entry" CASCADE`);
    const pickup: Record<string, { p50: number; p95: number; n: number }> = {};
    {
      const web = await startWeb(url, { ...DEFAULTS_ENV, RATE_LIMIT_CREATES_PER_MINUTE: "0" });
      await waitForWorkers(pool, 1);
      pickup.inProcess = await measurePickup(web.url, pool, SIZES.pickups);
      await stop(web.child);
    }
    {
      const web = await startWeb(url, { WORKER_ENABLED: "false", RATE_LIMIT_CREATES_PER_MINUTE: "0" });
      const worker = startWorker(url, DEFAULTS_ENV);
      await waitForWorkers(pool, 1);
      pickup.standalone = await measurePickup(web.url, pool, SIZES.pickups);
      await Promise.all([stop(worker), stop(web.child)]);
    }
    results.pickup = pickup;
    log(`  pickup p50/p95: in-process ${fmt(pickup.inProcess)}, standalone ${fmt(pickup.standalone)}`);
    }

    // ── 4. poll endpoint ──
    if (PART("poll")) {
    await pool.query(`TRUNCATE "Entry" CASCADE`);
    const web = await startWeb(url, { WORKER_ENABLED: "false", LOG_LEVEL: "warn" });
    const poll: PollRun[] = [];
    let loaded = 0;
    // Warm the server up (route compilation, JIT, connection pool) before anything is timed.
    await load(`${web.url}/api/health/live`, 2);
    await load(`${web.url}/api/entries?limit=50`, 2);
    for (const rows of SIZES.pollRows) {
      log(`poll endpoint at ${rows.toLocaleString()} rows…`);
      await bulkLoad(pool, rows - loaded);
      loaded = rows;
      // As a deployment's autovacuum and checkpointer would have by now: statistics, visibility
      // map, hint bits, and the bulk load's pages written out. Without the CHECKPOINT, the one the
      // load's WAL sets off ran for half a minute, during the measurement (PostgreSQL 15's log).
      await pool.query("VACUUM (ANALYZE) \"Entry\"");
      await checkpoint(pool);
      // Poll and control take turns, POLL_ROUNDS times (the order swapped every other round), so
      // that this machine's drift weighs on both alike; the medians are compared. Each timed run
      // follows a second of the same load, untimed: the web server's pool closes connections idle
      // for 10 s, and a poll run that first reopened its 20 (SCRAM handshakes on both sides) did
      // 4–13 % less than one right after it.
      const urls = { poll: `${web.url}/api/entries?limit=50`, control: `${web.url}/api/health/live` };
      const runs = { poll: [] as LoadResult[], control: [] as LoadResult[] };
      for (let round = 0; round < POLL_ROUNDS; round++) {
        for (const which of round % 2 === 0 ? (["control", "poll"] as const) : (["poll", "control"] as const)) {
          await load(urls[which], 1);
          runs[which].push(await load(urls[which], SIZES.pollSeconds));
        }
      }
      const list = medianLoad(runs.poll);
      const control = medianLoad(runs.control);
      const roundRatios = runs.poll.map((p, i) => p.rps / runs.control[i]!.rps);
      poll.push({ rows, poll: list, control, ratioToControl: list.rps / control.rps, roundRatios });
      log(`  ${list.rps.toFixed(0)} req/s (control ${control.rps.toFixed(0)}), p50 ${list.p50} ms, p99 ${list.p99} ms; rounds ${roundRatios.map((r) => r.toFixed(2)).join(", ")}`);
    }
    const deepUrl = `${web.url}/api/entries?limit=50&cursor=${await deepCursor(pool)}`;
    await load(deepUrl, 1);
    const deep = await load(deepUrl, SIZES.pollSeconds);
    const webRss = peakRssTree(web.child.pid!);
    await stop(web.child);
    results.poll = { runs: poll, deepCursorPage: deep, webPeakRssMb: webRss };
    }
  } finally {
    await pool.end();
    for (const c of children) c.kill("SIGKILL");
    await stopDb();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }

  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: pgVersion,
    database: process.env.DATABASE_URL ? "DATABASE_URL" : "embedded",
    date: new Date().toISOString(),
    mode: `${QUICK ? "quick" : "full"}${ONLY ? ` (${ONLY.join(", ")} only)` : ""}`,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  report({ machine, ...results } as unknown as Report);
}

// ── measurements ───────────────────────────────────────────────────────────────────────────────

/** Row-by-row UPDATEs through node-postgres, DB_POOL_SIZE connections from this one process. */
async function measureCeiling(url: string, seconds: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: POOL }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    clients.map(async (c, i) => {
      for (let n = i; performance.now() < deadline; n += POOL) {
        await c.query(`UPDATE bench_ceiling SET n = n + 1 WHERE id = $1`, [(n % 1000) + 1]);
        done++;
      }
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  return done / seconds;
}

const PGBENCH_CONNECTIONS = 8;

/**
 * The same UPDATE from pgbench (C, libpq, its own threads): what the server does with row-by-row
 * work when the client is no bottleneck. Null when pgbench is not installed (Debian:
 * postgresql-client).
 */
function measurePgbench(url: string, seconds: number): { updatesPerSecond: number; connections: number } | null {
  const candidates = ["pgbench", ...readdirSafe("/usr/lib/postgresql").map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`)];
  const bin = candidates.find((c) => spawnSync(c, ["--version"]).status === 0);
  if (!bin) return null;
  const script = path.join(mkdtempSync(path.join(os.tmpdir(), "aw-pgbench-")), "update.sql");
  writeFileSync(script, "\\set id random(1, 1000)\nUPDATE bench_ceiling SET n = n + 1 WHERE id = :id;\n");
  const out = execFileSync(bin, ["-n", "-c", String(PGBENCH_CONNECTIONS), "-j", "2", "-T", String(seconds), "-M", "prepared", "-f", script, url], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  rmSync(path.dirname(script), { recursive: true, force: true });
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
  return Number.isFinite(tps) ? { updatesPerSecond: tps, connections: PGBENCH_CONNECTIONS } : null;
}

/**
 * The app: `processes` idle worker processes, then SIZES.workerEntries entries inserted in one
 * statement; stage transitions per second until the last is COMPLETED — first by the fresh
 * processes, then (table emptied) by the same processes again. After each backlog: whether the
 * trigger-kept counts equal count(*), and how many stages succeeded twice (never, if locking holds).
 */
async function measureApp(url: string, pool: pg.Pool, processes: number, env: Record<string, string>) {
  await pool.query(`TRUNCATE "Entry" CASCADE`);
  await settle(pool);
  const workers = Array.from({ length: processes }, () => startWorker(url, env));
  await waitForWorkers(pool, processes);
  let countsExact = true;
  let duplicateStages = 0;
  const backlog = async () => {
    const seconds = await timeUntilDone(
      () => insertBacklog(pool, `INSERT INTO "Entry" (title) SELECT 'job ' || g FROM generate_series(1, $1) g`, [SIZES.workerEntries], `"Entry"`),
      async () => (await countOf(pool, "COMPLETED")) === SIZES.workerEntries,
    );
    const dupes = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM "StageExecution" WHERE outcome = 'SUCCEEDED' GROUP BY "entryId", "fromStatus" HAVING count(*) > 1) d`,
    );
    duplicateStages += dupes.rows[0]!.n;
    countsExact &&= await countsAreExact(pool);
    return (SIZES.workerEntries * 3) / seconds;
  };
  const fresh = await backlog();
  await pool.query(`TRUNCATE "Entry" CASCADE`); // the workers are idle: nothing is claimed
  await settle(pool);
  const warmedUp = await backlog();
  const peak = Math.max(...workers.map((w) => peakRssMb(w.pid!)));
  await Promise.all(workers.map(stop));
  return { fresh, warmedUp, peakRssMb: peak, countsExact, duplicateStages };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * graphile-worker on the same server: `processes` runner processes started and idle, then `jobs`
 * no-op jobs added in one statement; time from that commit until its job table is empty (jobs are
 * deleted as they complete). Twice, as the app: fresh processes, then the same ones again.
 *
 * The jobs go in through graphile-worker's own `add_jobs()` (what its `addJobs` calls), counted
 * in the database: `addJobs` also returns every job row, and reading 60,000 of them into the bench
 * took long enough after the commit that the runners had done much of the work before the clock
 * started (warmed-up runs printed up to 412,000 jobs/s). The app's INSERT returns nothing.
 */
async function measureGraphile(url: string, pool: pg.Pool, mode: "default" | "batched", processes: number, jobs: number) {
  await settle(pool);
  const peers = await Promise.all(Array.from({ length: processes }, () => startGraphile(url, mode)));
  try {
    const specs = JSON.stringify(Array.from({ length: jobs }, () => ({ identifier: "noop", payload: {} })));
    const backlog = async () =>
      jobs /
      (await timeUntilDone(
        () =>
          insertBacklog(
            pool,
            `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(SELECT json_populate_recordset(NULL::graphile_worker.job_spec, $1::json)))`,
            [specs],
            "graphile_worker._private_jobs",
          ),
        async () => (await pool.query(`SELECT NOT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS done`)).rows[0].done,
      ));
    const fresh = await backlog();
    await settle(pool);
    return { fresh, warmedUp: await backlog() };
  } finally {
    await Promise.all(peers.map(stop));
  }
}

async function startGraphile(url: string, mode: "default" | "batched") {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/graphile-peer.ts", mode, url], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`graphile-worker peer exited (${code})`)));
  });
  return child;
}

/**
 * Before each throughput run, app or peer: the previous run's dead rows vacuumed and its writes
 * checkpointed, so that no run pays for the one before it (autovacuum and checkpoints otherwise
 * land in whichever run comes next).
 */
async function settle(pool: pg.Pool) {
  await pool.query("VACUUM");
  await checkpoint(pool);
}

/** CHECKPOINT needs a privileged role; on a DATABASE_URL without one it is skipped. */
async function checkpoint(pool: pg.Pool) {
  await pool.query("CHECKPOINT").catch(() => {});
}

/**
 * A backlog goes in with its table analyzed in the same transaction, for app and peer alike: the
 * workers plan their first statements at the commit with statistics that count it, as they would
 * once autovacuum had analyzed the table. Without this, the statistics are those VACUUM left on the
 * empty table (settle: 0 rows), and graphile-worker's batched completion (`DELETE … USING
 * unnest($1)`), planned for an empty job table, sometimes took seconds per batch of 500:
 * 700–1,000 jobs/s until autovacuum analyzed the table. (The app: 2 % slower with it.)
 */
async function insertBacklog(pool: pg.Pool, sql: string, params: unknown[], table: string) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(sql, params);
    await client.query(`ANALYZE ${table}`);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Seconds from `start` returning (its statement committed) until `done` holds, checked every 25 ms. */
async function timeUntilDone(start: () => Promise<unknown>, done: () => Promise<boolean>): Promise<number> {
  await start();
  const t0 = performance.now();
  await waitUntil(async () => (await done()) || null, 600_000, 25);
  return (performance.now() - t0) / 1000;
}

/** Whether the trigger-kept counts equal a count over the table. */
async function countsAreExact(pool: pg.Pool) {
  const { rows } = await pool.query<{ exact: boolean }>(
    `SELECT NOT EXISTS (
       SELECT status, count(*) FROM "Entry" GROUP BY status
       EXCEPT SELECT status, sum(count) FROM "EntryStatusCount" GROUP BY status HAVING sum(count) <> 0
     ) AND NOT EXISTS (
       SELECT status, sum(count) FROM "EntryStatusCount" GROUP BY status HAVING sum(count) <> 0
       EXCEPT SELECT status, count(*) FROM "Entry" GROUP BY status
     ) AS exact`,
  );
  return rows[0]!.exact;
}

function readdirSafe(dir: string) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function measurePickup(base: string, pool: pg.Pool, n: number) {
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/api/entries`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: `pickup ${i}` }),
    });
    const returnedAt = Date.now();
    const { id } = (await res.json()) as { id: string };
    const entered = await waitUntil(async () => {
      const { rows } = await pool.query(
        `SELECT "finishedAt" FROM "StageExecution" WHERE "entryId" = $1 AND "toStatus" = 'STAGE_1' AND outcome = 'SUCCEEDED'`,
        [id],
      );
      return rows[0]?.finishedAt as Date | undefined;
    }, 10_000, 1);
    latencies.push(Math.max(0, entered.getTime() - returnedAt));
    await sleep(5);
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { p50: q(0.5), p95: q(0.95), n };
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function load(url: string, seconds: number): Promise<LoadResult> {
  const result = await autocannon({ url, connections: 10, duration: seconds });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
  };
}

function medianLoad(runs: LoadResult[]): LoadResult {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
  };
}

async function bulkLoad(pool: pg.Pool, rows: number) {
  // Mostly finished entries spread over time, as a long-running deployment accumulates them.
  const chunk = 250_000;
  for (let done = 0; done < rows; done += chunk) {
    const n = Math.min(chunk, rows - done);
    await pool.query(
      `INSERT INTO "Entry" (title, status, progress, result, "createdAt", "updatedAt")
       SELECT 'entry ' || g, CASE WHEN g % 50 = 0 THEN 'FAILED'::"EntryStatus" ELSE 'COMPLETED' END, 100,
              '{"message":"All stages completed"}'::jsonb, now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
         FROM generate_series($1::int + 1, $1::int + $2::int) g`,
      [done, n],
    );
  }
}

/** A cursor pointing deep into the table (the last page), to show keyset pages cost the same anywhere. */
async function deepCursor(pool: pg.Pool) {
  const { rows } = await pool.query(`SELECT "createdAt", id FROM "Entry" ORDER BY "createdAt" ASC, id ASC OFFSET 100 LIMIT 1`);
  return Buffer.from(`${rows[0].createdAt.toISOString()}|${rows[0].id}`).toString("base64url");
}

// ── processes ──────────────────────────────────────────────────────────────────────────────────

function startWorker(url: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/worker.ts"], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production", DATABASE_URL: url, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.add(child);
  return child;
}

async function startWeb(url: string, env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(port)], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", DATABASE_URL: url, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.add(child);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(async () => (await fetch(`${base}/api/health/live`).catch(() => null))?.ok, 60_000, 100);
  return { url: base, child };
}

function stop(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => (clearTimeout(timer), resolve()));
    child.kill("SIGTERM");
  });
}

async function waitForWorkers(pool: pg.Pool, n: number) {
  await waitUntil(async () => {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "Worker" WHERE "stoppedAt" IS NULL AND "lastSeenAt" > now() - interval '10 seconds'`);
    return rows[0].n >= n;
  }, 60_000, 50);
  await sleep(300); // LISTEN set up
}

/** Peak resident memory (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

/** The largest peak RSS in a process tree (next start serves from a child process). */
function peakRssTree(pid: number): number {
  let best = peakRssMb(pid);
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    for (const kid of kids) best = Math.max(best, peakRssTree(Number(kid)));
  } catch {}
  return best;
}

// ── helpers ────────────────────────────────────────────────────────────────────────────────────

async function countOf(pool: pg.Pool, status: string) {
  return Number((await pool.query(`SELECT coalesce(sum(count), 0) AS n FROM "EntryStatusCount" WHERE status = $1`, [status])).rows[0].n);
}

async function waitUntil<T>(check: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(everyMs);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const fmt = (p: { p50: number; p95: number }) => `${p.p50}/${p.p95} ms`;

// ── report ─────────────────────────────────────────────────────────────────────────────────────

interface ThroughputRun {
  system: "app" | "graphile-worker";
  label: string;
  processes: number;
  /** The median of `samples`: the second backlog, processes warmed up. */
  perSecond: number;
  samples: number[];
  /** The median of `freshSamples`: the first backlog, fresh processes. */
  fresh: number;
  freshSamples: number[];
  peakRssMb: number;
  countsExact: boolean;
}

interface PollRun {
  rows: number;
  /** Medians over the rounds (each figure on its own). */
  poll: LoadResult;
  control: LoadResult;
  ratioToControl: number;
  /** Each round's poll over the control run next to it. */
  roundRatios: number[];
}

interface Report {
  machine: Record<string, string | number>;
  ceiling?: { nodePg: { updatesPerSecond: number; connections: number }; pgbench: { updatesPerSecond: number; connections: number } | null };
  throughput?: { entries: number; jobs: number; repeats: number; duplicateStages: number; runs: ThroughputRun[] };
  pickup?: Record<"inProcess" | "standalone", { p50: number; p95: number; n: number }>;
  poll?: { runs: PollRun[]; deepCursorPage: LoadResult; webPeakRssMb: number };
}

function report(r: Report) {
  const lines: string[] = [];
  const targets: [string, boolean, string][] = [];
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  // The ratio of every repeat or round beside a median's: how far apart they lie says how much to trust it.
  const each = (label: string, ratios: number[]) => (ratios.length > 1 ? ` (${label} ${ratios.map((v) => v.toFixed(2)).join(", ")})` : "");
  lines.push(`Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGb} GiB; Node ${r.machine.node}; PostgreSQL ${r.machine.postgres} (${r.machine.database}); ${r.machine.mode} run, ${r.machine.date}`);
  lines.push("");
  lines.push("| measurement | value | ratio |");
  lines.push("| --- | --- | --- |");
  if (r.ceiling && r.throughput) {
    const { nodePg, pgbench } = r.ceiling;
    const t = r.throughput;
    const peer = t.runs.find((p) => p.system === "graphile-worker" && p.label === "batched" && p.processes === 1)!;
    const app = (label: string, n: number) => t.runs.find((p) => p.system === "app" && p.label === label && p.processes === n);
    lines.push(`| ceiling: single-row autocommit UPDATE, node-postgres, ${nodePg.connections} connections in one process | ${nodePg.updatesPerSecond.toFixed(0)} /s | ${x(nodePg.updatesPerSecond, peer.perSecond)} peer |`);
    lines.push(
      pgbench
        ? `| ceiling: the same UPDATE from pgbench, ${pgbench.connections} connections (no client bottleneck) | ${pgbench.updatesPerSecond.toFixed(0)} /s | ${x(pgbench.updatesPerSecond, peer.perSecond)} peer |`
        : "| ceiling: pgbench | not installed (postgresql-client) | |",
    );
    for (const run of t.runs) {
      const what =
        run.system === "app"
          ? `app worker, ${run.processes} process${run.processes > 1 ? "es" : ""}, ${run.label}, ${t.entries.toLocaleString()} entries × 3 stages`
          : `graphile-worker ${run.label}, ${run.processes} process${run.processes > 1 ? "es" : ""}, ${t.jobs.toLocaleString()} no-op jobs`;
      const unit = run.system === "app" ? "transitions/s" : "jobs/s";
      const vs = pgbench ? `, ${x(run.perSecond, pgbench.updatesPerSecond)} pgbench` : "";
      const spread = (xs: number[]) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})` : "");
      const value = `${run.perSecond.toFixed(0)} ${unit}${spread(run.samples)} warmed up; ${run.fresh.toFixed(0)}${spread(run.freshSamples)} fresh`;
      const ratio = run === peer ? "1.00× peer (the reference)" : `${x(run.perSecond, peer.perSecond)} peer (fresh ${x(run.fresh, peer.fresh)})`;
      lines.push(`| ${what} | ${value} | ${ratio}${vs} |`);
    }
    lines.push(`| duplicate successful stages, all app runs | ${t.duplicateStages} | |`);
    if (t.repeats > 1) lines.push(`| each throughput row: median of ${t.repeats} interleaved runs (min–max); "fresh": the processes' first backlog, "warmed up": their second | | |`);
    const one = app("defaults", 1)!;
    const two = app("defaults", 2)!;
    const four = app("defaults", 4)!;
    // A throughput target holds for warmed-up processes (what a deployment's long-running workers
    // do) and for fresh ones (what the first seconds after a start or a scale-up do) alike.
    const atLeast = (a: ThroughputRun, b: ThroughputRun) => a.perSecond >= b.perSecond && a.fresh >= b.fresh;
    // Each repeat's own ratio: its two runs were neighbours in the run order.
    const pairs = (as: number[], bs: number[]) => each("runs", as.map((v, i) => v / bs[i]!));
    const ratios = (a: ThroughputRun, b: ThroughputRun) =>
      `${x(a.perSecond, b.perSecond)} warmed up${pairs(a.samples, b.samples)}, ${x(a.fresh, b.fresh)} fresh${pairs(a.freshSamples, b.freshSamples)}`;
    targets.push(["app: 4 processes at defaults ≥ 1.0× graphile-worker batched", atLeast(four, peer), ratios(four, peer)]);
    targets.push(["app: 4 processes ≥ 1.0× 1 process (defaults)", atLeast(four, one), ratios(four, one)]);
    targets.push(["app: 2 processes ≥ 1.0× 1 process (defaults)", atLeast(two, one), ratios(two, one)]);
    targets.push(["counts exact after every run; no duplicate stage", t.runs.every((p) => p.countsExact) && t.duplicateStages === 0, `${t.duplicateStages} duplicates`]);
    targets.push(["worker peak RSS ≤ 200 MB", Math.max(...t.runs.map((p) => p.peakRssMb)) <= 200, `${Math.max(...t.runs.map((p) => p.peakRssMb))} MB`]);
  }
  if (r.pickup) {
    lines.push(`| pickup, in-process worker (p50 / p95, n=${r.pickup.inProcess.n}) | ${fmt(r.pickup.inProcess)} | |`);
    lines.push(`| pickup, standalone worker via NOTIFY (p50 / p95, n=${r.pickup.standalone.n}) | ${fmt(r.pickup.standalone)} | |`);
    targets.push(["pickup in-process p50 ≤ 5 ms, p95 ≤ 20 ms", r.pickup.inProcess.p50 <= 5 && r.pickup.inProcess.p95 <= 20, fmt(r.pickup.inProcess)]);
    targets.push(["pickup standalone p50 ≤ 5 ms, p95 ≤ 20 ms", r.pickup.standalone.p50 <= 5 && r.pickup.standalone.p95 <= 20, fmt(r.pickup.standalone)]);
  }
  if (r.poll) {
    const first = r.poll.runs[0]!;
    const big = r.poll.runs.at(-1)!;
    const latencyRatio = big.poll.p50 / Math.max(first.poll.p50, 0.001);
    const rounds = (p: PollRun) => each("rounds", p.roundRatios);
    for (const p of r.poll.runs) {
      lines.push(`| GET /api/entries?limit=50 at ${p.rows.toLocaleString()} rows (req/s, p50 / p99) | ${p.poll.rps.toFixed(0)} /s, ${p.poll.p50} / ${p.poll.p99} ms | ${p.ratioToControl.toFixed(2)}× control${rounds(p)} |`);
      lines.push(`| control GET /api/health/live at ${p.rows.toLocaleString()} rows | ${p.control.rps.toFixed(0)} /s, ${p.control.p50} / ${p.control.p99} ms | 1.00× |`);
    }
    const deepRatio = r.poll.deepCursorPage.rps / big.control.rps;
    lines.push(`| keyset page near the end of ${big.rows.toLocaleString()} rows (?cursor=) | ${r.poll.deepCursorPage.rps.toFixed(0)} /s, ${r.poll.deepCursorPage.p50} / ${r.poll.deepCursorPage.p99} ms | ${deepRatio.toFixed(2)}× control |`);
    lines.push(`| peak RSS of the web server | ${r.poll.webPeakRssMb} MB | |`);
    targets.push([`poll at ${big.rows.toLocaleString()} rows ≥ 0.5× control req/s`, big.ratioToControl >= 0.5, `${big.ratioToControl.toFixed(2)}×${rounds(big)}`]);
    targets.push([`poll p50 at ${big.rows.toLocaleString()} ≤ 1.3× at ${first.rows.toLocaleString()}`, latencyRatio <= 1.3, `${latencyRatio.toFixed(2)}×`]);
    targets.push(["web server peak RSS ≤ 400 MB", r.poll.webPeakRssMb <= 400, `${r.poll.webPeakRssMb} MB`]);
  }
  lines.push("");
  lines.push("| target | result | measured |");
  lines.push("| --- | --- | --- |");
  for (const [name, ok, value] of targets) lines.push(`| ${name} | ${ok ? "PASS" : "MISS"} | ${value} |`);
  const table = lines.join("\n");
  console.log(table);

  mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(path.join(ROOT, "bench", "results", "latest.json"), JSON.stringify({ ...r, targets }, null, 2));
  // Only full runs of every part replace the published table (one per kind of database server);
  // quick and partial runs are for checking a change.
  if (!QUICK && !ONLY) {
    const doc = path.join(ROOT, "docs", "benchmarks.md");
    const marker = `<!-- results: ${r.machine.database} -->`;
    const text = readFileSync(doc, "utf8");
    const [before, rest = ""] = text.split(marker);
    const after = rest.includes("<!-- results:") ? rest.slice(rest.indexOf("<!-- results:")) : "";
    writeFileSync(doc, `${before}${marker}\n\n${table}\n\n${after}`.trimEnd() + "\n");
  }
}

main().catch((error) => {
  console.error(error);
  for (const c of children) c.kill("SIGKILL");
  process.exit(1);
});
