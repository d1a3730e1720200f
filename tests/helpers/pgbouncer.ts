import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./ports";
import { stopProcess, waitFor } from "./server";

// Debian's PgBouncer in front of the suite's PostgreSQL, as managed services put one in front of
// theirs: stock settings (auth_type md5, default pool sizes, no ignore_startup_parameters) except
// pool_mode = transaction, on a free port.

export const PGBOUNCER_PATH = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find((p) => existsSync(p));

/** Whether to run the pooler tests: with CI=true a missing PgBouncer is a failure, not a skip. */
export function pgbouncerAvailable(): boolean {
  if (PGBOUNCER_PATH) return true;
  const hint = "Install it with: apt-get install -y pgbouncer";
  if (process.env.CI === "true") throw new Error(`PgBouncer not found. ${hint}`);
  console.warn(`\n${"!".repeat(70)}\n!! PgBouncer tests SKIPPED: pgbouncer not found. ${hint}\n${"!".repeat(70)}\n`);
  return false;
}

export interface PgBouncer {
  /** `serverUrl`, with host and port swapped for the pooler's. */
  url: string;
  stop: () => Promise<void>;
  log: () => string;
}

export async function startPgBouncer(serverUrl: string): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "aw-pgbouncer-"));
  const user = decodeURIComponent(server.username);
  writeFileSync(path.join(dir, "userlist.txt"), `"${user}" "${decodeURIComponent(server.password)}"\n`);
  writeFileSync(
    path.join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port}`,
      "[pgbouncer]",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      `pidfile = ${path.join(dir, "pgbouncer.pid")}`,
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = md5",
      `auth_file = ${path.join(dir, "userlist.txt")}`,
      "pool_mode = transaction",
      "",
    ].join("\n"),
  );
  // PgBouncer will not run as root; run it as the user the embedded PostgreSQL runs as.
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) } : {};
  if (asRoot) for (const f of ["", "userlist.txt", "pgbouncer.ini"]) chownSync(path.join(dir, f), ids.uid!, ids.gid!);
  const child = spawn(PGBOUNCER_PATH!, [path.join(dir, "pgbouncer.ini")], { ...ids, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const log = () => output + (existsSync(path.join(dir, "pgbouncer.log")) ? readFileSync(path.join(dir, "pgbouncer.log"), "utf8") : "");
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited:\n${log()}`);
    return log().includes("process up");
  }, 10_000, 50);
  const url = new URL(serverUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    log,
    stop: async () => {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
