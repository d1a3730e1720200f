import pg from "pg";
import { config } from "@/lib/server/config";

// The one place that makes database clients: one pg pool per process for every query (SQL written
// out, see lib/entries.ts for why not Prisma's client), and LISTEN connections beside it. Cached on globalThis, so that neither Next's
// hot reload in development nor its separate bundles open more than one.
//
// DATABASE_URL may be unset while `next build` loads modules; the server's start checks it
// (instrumentation.ts), so no request ever runs without it.
function createClients() {
  // No startup parameters beyond the standard ones: a transaction-mode pooler (PgBouncer) refuses
  // connections that send `options`. Queries that need UTC text ask for it in SQL.
  const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  return { pool };
}

// On globalThis in production too: instrumentation.ts and the route handlers are bundled apart,
// and each bundle would otherwise open a pool of its own.
const globalForDb = globalThis as unknown as { db?: ReturnType<typeof createClients> };
const clients = (globalForDb.db ??= createClients());

export const { pool } = clients;

/** The pool, or one client of it inside a transaction: what the data functions run their SQL on. */
export type Queryable = Pick<pg.Pool, "query">;

/**
 * A connection of its own, outside the pool, for LISTEN: it must stay open and be one session, so
 * it goes to DIRECT_URL when set (a transaction-mode pooler in DATABASE_URL would hand the LISTEN to
 * a server connection that then serves others, and the notifications never reach us).
 */
export function createListenConnection() {
  return new pg.Client({ connectionString: config.DIRECT_URL ?? config.DATABASE_URL });
}
