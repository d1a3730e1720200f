// `npm run bench [-- --quick] [-- --skip-build]`: measures the worker and the API on this machine,
// side by side in one run, and reports ratios (absolute times drift from run to run; ratios hold).
// Writes bench/results/latest.json and docs/benchmarks.md.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
const SIZES = QUICK
  ? { ceilingSeconds: 3, workerEntries: 4000, workerCounts: [1, 2, 4], pickups: 150, pollSeconds: 3, pollRows: [1_000, 100_000, 1_000_000] }
  : { ceilingSeconds: 10, workerEntries: 20_000, workerCounts: [1, 2, 4], pickups: 500, pollSeconds: 10, pollRows: [1_000, 100_000, 1_000_000] };
const POOL = 20; // DB_POOL_SIZE's default: the connections one process (worker or web) may use
const WORKER_ENV = { STAGE_DELAY_MS: "0", WORKER_CONCURRENCY: "2000", WORKER_BATCH_SIZE: "500", LOG_LEVEL: "warn", DB_POOL_SIZE: String(POOL) };

const log = (...args: unknown[]) => console.error("[bench]", ...args);
const children = new Set<ChildProcess>();

async function main() {
  const started = Date.now();
  // ── a database of its own ──
  let dataDir: string | undefined;
  let stopDb = async () => {};
  let url: string;
  if (process.env.DATABASE_URL) {
    url = await ensureDatabase(process.env.DATABASE_URL, `aw_bench_${Date.now()}`);
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

  if (!SKIP_BUILD) {
    log("next build…");
    execFileSync(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "build"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" },
    });
  }

  const results: Record<string, unknown> = {};
  try {
    // ── 1. database ceiling ──
    log("database ceiling: single-row autocommit UPDATEs…");
    await pool.query(`INSERT INTO "Entry" (title, status, progress) SELECT 'ceiling ' || g, 'COMPLETED', 100 FROM generate_series(1, 1000) g`);
    const ids = (await pool.query(`SELECT id FROM "Entry"`)).rows.map((r) => r.id as string);
    const ceiling = await measureCeiling(url, ids, SIZES.ceilingSeconds);
    results.ceiling = { updatesPerSecond: ceiling, connections: POOL };
    log(`  ${ceiling.toFixed(0)} updates/s`);

    // ── 2. worker throughput ──
    const throughput: { workers: number; transitionsPerSecond: number; ratioToCeiling: number; peakRssMb: number }[] = [];
    for (const count of SIZES.workerCounts) {
      await pool.query(`TRUNCATE "Entry" CASCADE`);
      const workers = Array.from({ length: count }, () => startWorker(url, WORKER_ENV));
      await waitForWorkers(pool, count);
      const t0 = performance.now();
      await pool.query(`INSERT INTO "Entry" (title) SELECT 'job ' || g FROM generate_series(1, $1) g`, [SIZES.workerEntries]);
      await waitUntil(async () => (await countOf(pool, "COMPLETED")) === SIZES.workerEntries, 600_000, 20);
      const seconds = (performance.now() - t0) / 1000;
      const peak = Math.max(...workers.map((w) => peakRssMb(w.pid!)));
      await Promise.all(workers.map(stop));
      const tps = (SIZES.workerEntries * 3) / seconds;
      throughput.push({ workers: count, transitionsPerSecond: tps, ratioToCeiling: tps / ceiling, peakRssMb: peak });
      log(`  ${count} worker(s): ${tps.toFixed(0)} transitions/s (${(tps / ceiling).toFixed(2)}× ceiling), peak RSS ${peak} MB`);
    }
    const dupes = await pool.query(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM "StageExecution" WHERE outcome = 'SUCCEEDED' GROUP BY "entryId", "fromStatus" HAVING count(*) > 1) d`,
    );
    results.throughput = { entries: SIZES.workerEntries, runs: throughput, duplicateStages: dupes.rows[0].n };

    // ── 3. pickup latency ──
    await pool.query(`TRUNCATE "Entry" CASCADE`);
    const pickup: Record<string, { p50: number; p95: number; n: number }> = {};
    {
      const web = await startWeb(url, { STAGE_DELAY_MS: "0", RATE_LIMIT_CREATES_PER_MINUTE: "0", LOG_LEVEL: "warn" });
      await waitForWorkers(pool, 1);
      pickup.inProcess = await measurePickup(web.url, pool, SIZES.pickups);
      await stop(web.child);
    }
    {
      const web = await startWeb(url, { WORKER_ENABLED: "false", RATE_LIMIT_CREATES_PER_MINUTE: "0", LOG_LEVEL: "warn" });
      const worker = startWorker(url, { ...WORKER_ENV, SWEEP_INTERVAL_MS: "2000" });
      await waitForWorkers(pool, 1);
      pickup.standalone = await measurePickup(web.url, pool, SIZES.pickups);
      await Promise.all([stop(worker), stop(web.child)]);
    }
    results.pickup = pickup;
    log(`  pickup p50/p95: in-process ${fmt(pickup.inProcess)}, standalone ${fmt(pickup.standalone)}`);

    // ── 4. poll endpoint ──
    await pool.query(`TRUNCATE "Entry" CASCADE`);
    const web = await startWeb(url, { WORKER_ENABLED: "false", LOG_LEVEL: "warn" });
    const poll: { rows: number; poll: LoadResult; control: LoadResult; ratioToControl: number }[] = [];
    let loaded = 0;
    // Warm the server up (route compilation, JIT, connection pool) before anything is timed.
    await load(`${web.url}/api/health/live`, 2);
    await load(`${web.url}/api/entries?limit=50`, 2);
    for (const rows of SIZES.pollRows) {
      log(`poll endpoint at ${rows.toLocaleString()} rows…`);
      await bulkLoad(pool, rows - loaded);
      loaded = rows;
      // As a deployment's autovacuum would have by now: statistics, visibility map, hint bits.
      await pool.query("VACUUM (ANALYZE) \"Entry\"");
      // The control runs before and after the poll run (half as long each) and is averaged, so that
      // drift during the run (this machine's speed wanders) weighs on both sides alike.
      const controlBefore = await load(`${web.url}/api/health/live`, SIZES.pollSeconds / 2);
      const list = await load(`${web.url}/api/entries?limit=50`, SIZES.pollSeconds);
      const controlAfter = await load(`${web.url}/api/health/live`, SIZES.pollSeconds / 2);
      const control = averageLoad(controlBefore, controlAfter);
      poll.push({ rows, poll: list, control, ratioToControl: list.rps / control.rps });
      log(`  ${list.rps.toFixed(0)} req/s (control ${control.rps.toFixed(0)}), p50 ${list.p50} ms, p99 ${list.p99} ms`);
    }
    const deep = await load(`${web.url}/api/entries?limit=50&cursor=${await deepCursor(pool)}`, SIZES.pollSeconds);
    const webRss = peakRssTree(web.child.pid!);
    await stop(web.child);
    results.poll = { runs: poll, deepCursorPage: deep, webPeakRssMb: webRss };
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
    date: new Date().toISOString(),
    mode: QUICK ? "quick" : "full",
    seconds: Math.round((Date.now() - started) / 1000),
  };
  report({ machine, ...results } as unknown as Report);
}

// ── measurements ───────────────────────────────────────────────────────────────────────────────

async function measureCeiling(url: string, ids: string[], seconds: number): Promise<number> {
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
        await c.query(`UPDATE "Entry" SET progress = progress WHERE id = $1`, [ids[n % ids.length]]);
        done++;
      }
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  return done / seconds;
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

function averageLoad(a: LoadResult, b: LoadResult): LoadResult {
  return { rps: (a.rps + b.rps) / 2, p50: (a.p50 + b.p50) / 2, p99: (a.p99 + b.p99) / 2, non2xx: a.non2xx + b.non2xx };
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
  return Number((await pool.query(`SELECT count FROM "EntryStatusCount" WHERE status = $1`, [status])).rows[0].count);
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

interface Report {
  machine: Record<string, string | number>;
  ceiling: { updatesPerSecond: number; connections: number };
  throughput: { entries: number; duplicateStages: number; runs: { workers: number; transitionsPerSecond: number; ratioToCeiling: number; peakRssMb: number }[] };
  pickup: Record<"inProcess" | "standalone", { p50: number; p95: number; n: number }>;
  poll: { runs: { rows: number; poll: LoadResult; control: LoadResult; ratioToControl: number }[]; deepCursorPage: LoadResult; webPeakRssMb: number };
}

function report(r: Report) {
  const four = r.throughput.runs.find((x) => x.workers === 4)!;
  const first = r.poll.runs[0]!;
  const big = r.poll.runs.at(-1)!;
  const latencyRatio = big.poll.p50 / Math.max(first.poll.p50, 0.001);
  const workerRss = Math.max(...r.throughput.runs.map((x) => x.peakRssMb));
  const targets = [
    ["worker: 4 processes ≥ 3× ceiling", four.ratioToCeiling >= 3, `${four.ratioToCeiling.toFixed(2)}×`],
    ["pickup in-process p50 ≤ 5 ms, p95 ≤ 20 ms", r.pickup.inProcess.p50 <= 5 && r.pickup.inProcess.p95 <= 20, fmt(r.pickup.inProcess)],
    ["pickup standalone p50 ≤ 5 ms, p95 ≤ 20 ms", r.pickup.standalone.p50 <= 5 && r.pickup.standalone.p95 <= 20, fmt(r.pickup.standalone)],
    [`poll at ${big.rows.toLocaleString()} rows ≥ 0.5× control req/s`, big.ratioToControl >= 0.5, `${big.ratioToControl.toFixed(2)}×`],
    [`poll p50 at ${big.rows.toLocaleString()} ≤ 1.3× at ${first.rows.toLocaleString()}`, latencyRatio <= 1.3, `${latencyRatio.toFixed(2)}×`],
    ["web server peak RSS ≤ 400 MB", r.poll.webPeakRssMb <= 400, `${r.poll.webPeakRssMb} MB`],
    ["worker peak RSS ≤ 200 MB", workerRss <= 200, `${workerRss} MB`],
  ] as const;

  const lines: string[] = [];
  lines.push(`Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGb} GiB; Node ${r.machine.node}; PostgreSQL ${r.machine.postgres}; ${r.machine.mode} run, ${r.machine.date}`);
  lines.push("");
  lines.push("| measurement | value | ratio |");
  lines.push("| --- | --- | --- |");
  lines.push(`| database ceiling: single-row autocommit UPDATE, ${r.ceiling.connections} connections | ${r.ceiling.updatesPerSecond.toFixed(0)} /s | 1.00× |`);
  for (const t of r.throughput.runs) {
    lines.push(`| worker, ${t.workers} process${t.workers > 1 ? "es" : ""}, ${r.throughput.entries.toLocaleString()} entries, delay 0 | ${t.transitionsPerSecond.toFixed(0)} transitions/s | ${t.ratioToCeiling.toFixed(2)}× ceiling |`);
  }
  lines.push(`| duplicate successful stages across all worker runs | ${r.throughput.duplicateStages} | |`);
  lines.push(`| pickup, in-process worker (p50 / p95, n=${r.pickup.inProcess.n}) | ${fmt(r.pickup.inProcess)} | |`);
  lines.push(`| pickup, standalone worker via NOTIFY (p50 / p95, n=${r.pickup.standalone.n}) | ${fmt(r.pickup.standalone)} | |`);
  for (const p of r.poll.runs) {
    lines.push(`| GET /api/entries?limit=50 at ${p.rows.toLocaleString()} rows (req/s, p50 / p99) | ${p.poll.rps.toFixed(0)} /s, ${p.poll.p50} / ${p.poll.p99} ms | ${p.ratioToControl.toFixed(2)}× control |`);
    lines.push(`| control GET /api/health/live at ${p.rows.toLocaleString()} rows | ${p.control.rps.toFixed(0)} /s, ${p.control.p50} / ${p.control.p99} ms | 1.00× |`);
  }
  const deepRatio = r.poll.deepCursorPage.rps / big.control.rps;
  lines.push(`| keyset page near the end of ${big.rows.toLocaleString()} rows (?cursor=) | ${r.poll.deepCursorPage.rps.toFixed(0)} /s, ${r.poll.deepCursorPage.p50} / ${r.poll.deepCursorPage.p99} ms | ${deepRatio.toFixed(2)}× control |`);
  lines.push(`| peak RSS: web server / worker process | ${r.poll.webPeakRssMb} MB / ${workerRss} MB | |`);
  lines.push("");
  lines.push("| target | result | measured |");
  lines.push("| --- | --- | --- |");
  for (const [name, ok, value] of targets) lines.push(`| ${name} | ${ok ? "PASS" : "MISS"} | ${value} |`);
  const table = lines.join("\n");
  console.log(table);

  mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(path.join(ROOT, "bench", "results", "latest.json"), JSON.stringify({ ...r, targets }, null, 2));
  // Only full runs replace the published table; quick runs are for checking a change.
  if (!QUICK) {
    const doc = path.join(ROOT, "docs", "benchmarks.md");
    const intro = readFileSync(doc, "utf8").split("<!-- results -->")[0];
    writeFileSync(doc, `${intro}<!-- results -->\n\n${table}\n`);
  }
}

main().catch((error) => {
  console.error(error);
  for (const c of children) c.kill("SIGKILL");
  process.exit(1);
});
