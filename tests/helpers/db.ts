import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, inject } from "vitest";

/**
 * A fresh, migrated database for the calling test file, copied from the template that the global
 * setup migrated. Sets process.env.DATABASE_URL so that app modules imported *afterwards*
 * (`await import("@/lib/server/entries/…")`) use it. Dropped when the file's tests end.
 */
export async function createTestDatabase(): Promise<{ url: string; pool: pg.Pool }> {
  const adminUrl = inject("pgAdminUrl");
  const name = `aw_test_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject("templateDb")}`);
  await admin.end();

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  process.env.DATABASE_URL = url.toString();
  const pool = new pg.Pool({ connectionString: url.toString(), max: 20 });

  afterAll(async () => {
    await pool.end();
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  });
  return { url: url.toString(), pool };
}
