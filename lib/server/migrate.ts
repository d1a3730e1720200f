import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";

// Applies prisma/migrations the way `prisma migrate deploy` does, without Prisma's native schema
// engine (which cannot be downloaded offline). It keeps Prisma's bookkeeping table byte for byte, so
// a machine that has the engine sees the same history and `prisma migrate deploy` agrees with it.

export const MIGRATIONS_DIR = path.join(process.cwd(), "prisma", "migrations");

// The advisory lock key Prisma's schema engine takes for migrate commands: our runner and
// `prisma migrate deploy` therefore also exclude each other.
const PRISMA_MIGRATE_LOCK_KEY = 72707369;

const CREATE_BOOKKEEPING_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const folders = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return Promise.all(
    folders.map(async (name) => {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      // Prisma's checksum: SHA-256 of the file's bytes, hex.
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

/**
 * Applies every pending migration; safe to call from several processes at once, and repeatedly.
 *
 * Each migration runs in a transaction that first takes Prisma's advisory lock at transaction level
 * and then re-reads the bookkeeping, so concurrent runners apply each migration once, and the lock
 * can never be stranded: a session-level lock taken through a transaction-mode pooler stays on
 * whichever server connection ran it, and the next start would wait on it forever.
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const migrations = await readMigrations(dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  try {
    await locked(client, async () => {
      await client.query(CREATE_BOOKKEEPING_TABLE);
      const { rows } = await client.query<{ migration_name: string }>(
        `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NULL AND rolled_back_at IS NULL LIMIT 1`,
      );
      if (rows[0]) {
        throw new Error(
          `Migration ${rows[0].migration_name} started but never finished. Inspect the database, then mark it ` +
            `rolled back (UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '...').`,
        );
      }
    });
    for (const m of migrations) {
      const applied = await locked(client, async () => {
        const { rows } = await client.query<{ checksum: string }>(
          `SELECT checksum FROM "_prisma_migrations" WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL`,
          [m.name],
        );
        if (rows[0]) {
          if (rows[0].checksum !== m.checksum) {
            console.warn(`migrate: ${m.name} was edited after it was applied (checksum differs); not re-applying it`);
          }
          return false;
        }
        await applyOne(client, m);
        return true;
      });
      (applied ? result.applied : result.alreadyApplied).push(m.name);
    }
    return result;
  } finally {
    await client.end();
  }
}

/** Runs `work` in a transaction holding Prisma's migrate lock; a failure rolls it all back. */
async function locked<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
    const value = await work();
    await client.query("COMMIT");
    return value;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

async function applyOne(client: pg.Client, m: Migration) {
  // Inside the caller's transaction, with its bookkeeping row: a failure leaves nothing half-applied.
  // The failure is still recorded, as Prisma does, but as rolled back (in a transaction of its own,
  // after the failed one is undone): the next run retries it once the SQL is fixed.
  const id = randomUUID();
  try {
    await client.query("SAVEPOINT migration");
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`,
      [id, m.checksum, m.name],
    );
    await client.query(m.sql);
    await client.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
  } catch (error) {
    await client.query("ROLLBACK TO SAVEPOINT migration");
    const message = error instanceof Error ? error.message : String(error);
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at, rolled_back_at)
       VALUES ($1, $2, $3, $4, now(), now())`,
      [id, m.checksum, m.name, message],
    );
    await client.query("COMMIT");
    throw new Error(`Migration ${m.name} failed and was rolled back: ${message}`);
  }
}
