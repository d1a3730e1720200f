// Entry point of the npm scripts: finds the database (DATABASE_URL, or the embedded PostgreSQL),
// migrates it, then runs `next dev|start`, the standalone worker, or only the migration.
//   node --import tsx scripts/run.ts dev|build|start|worker|migrate [extra args for next]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import nextEnv from "@next/env";

// Next reads .env, .env.local, .env.development… itself; load them the same way here, first, so
// DATABASE_URL in .env.local decides whether the embedded server is needed.
const command = process.argv[2] ?? "";
const extraArgs = process.argv.slice(3);
nextEnv.loadEnvConfig(process.cwd(), command === "dev");

const require = createRequire(import.meta.url);
const { startEmbeddedPostgres } = await import("./embedded-postgres");
const { migrate } = await import("../lib/server/migrate");


function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

if (!["dev", "build", "start", "worker", "migrate"].includes(command)) {
  fail(`usage: tsx scripts/run.ts dev|build|start|worker|migrate`);
}

// lib/config.ts validates the environment as it loads: a bad value stops here with its message.
const { config, EMBEDDED_DATABASE } = await import("../lib/server/config").catch((error: Error) => fail(error.message));

if (command === "build") {
  // Building touches no database.
  runChild([nextBin(), "build", ...extraArgs], { ...process.env, NEXT_TELEMETRY_DISABLED: "1" });
} else {
  let databaseUrl = config.DATABASE_URL;
  let stopDatabase = async () => {};
  if (!databaseUrl) {
    const server = await startEmbeddedPostgres({
      dataDir: config.EMBEDDED_PG_DIR,
      port: config.EMBEDDED_PG_PORT,
      log: process.env.DEBUG_EMBEDDED_PG ? console.log : undefined,
    }).catch((error: Error) => fail(error.message));
    databaseUrl = await server.ensureDatabase(EMBEDDED_DATABASE);
    stopDatabase = server.stop;
    console.log(
      server.owned
        ? `Embedded PostgreSQL started on 127.0.0.1:${server.port} (data in ${config.EMBEDDED_PG_DIR})`
        : `Using the embedded PostgreSQL already running on 127.0.0.1:${server.port}`,
    );
  }
  // Migrations need a session of their own: DIRECT_URL when the app's URL is a pooler.
  const migrationUrl = config.DATABASE_URL && config.DIRECT_URL ? config.DIRECT_URL : databaseUrl;
  const { applied } = await migrate(migrationUrl).catch((error: Error) => {
    void stopDatabase();
    return fail(`Database migration failed: ${error.message}`);
  });
  if (applied.length) console.log(`Applied migrations: ${applied.join(", ")}`);

  if (command === "migrate") {
    await stopDatabase();
    console.log("Database is up to date.");
  } else {
    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      NEXT_TELEMETRY_DISABLED: "1",
      // Next.js would exit on SIGINT/SIGTERM by itself; the app's handler instead lets the worker
      // hand back its locks first (lib/server/worker/stop-on-signals.ts).
      NEXT_MANUAL_SIG_HANDLE: "true",
      // `next dev` kills its server process 100 ms after passing Ctrl-C on; give it the grace period.
      NEXT_EXIT_TIMEOUT_MS: String(config.SHUTDOWN_GRACE_MS + 10_000),
    };
    const args =
      command === "worker"
        ? ["--import", "tsx", "scripts/worker.ts", ...extraArgs]
        : [nextBin(), command, ...extraArgs];
    runChild(args, env, stopDatabase);
  }
}

function nextBin() {
  return require.resolve("next/dist/bin/next");
}

function runChild(args: string[], env: NodeJS.ProcessEnv, cleanup: () => Promise<void> = async () => {}) {
  const child = spawn(process.execPath, args, { env, stdio: "inherit" });
  // The child gets terminal signals itself (same process group); forward those sent to us alone.
  // The database is stopped once the child is gone (scripts/embedded-postgres.ts removed the package's
  // own exit hooks, which would have ended this process first).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("exit", async (code, signal) => {
    await cleanup();
    process.exit(code ?? (signal ? 1 : 0));
  });
}
