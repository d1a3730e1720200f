import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { config } from "@/lib/config";

// The one place that makes database clients: one pg pool per process, used by Prisma (through its
// pg adapter) and by the worker's hand-written statements alike. Cached on globalThis so that
// Next's hot reload in development does not open a new pool on every edit.
//
// DATABASE_URL may be unset while `next build` loads modules; the server's start checks it
// (instrumentation.ts), so no request ever runs without it.
function createClients() {
  // Sessions in UTC: timestamps then arrive as text that lib/pg-types.ts rewrites without parsing.
  const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE, options: "-c TimeZone=UTC" });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  return { pool, prisma: new PrismaClient({ adapter: new PrismaPg(pool) }) };
}

const globalForDb = globalThis as unknown as { db?: ReturnType<typeof createClients> };
const clients = globalForDb.db ?? createClients();
if (config.NODE_ENV !== "production") globalForDb.db = clients;

export const { pool, prisma } = clients;

/** A connection of its own, outside the pool: LISTEN needs one that stays open and is not shared. */
export function createListenConnection() {
  return new pg.Client({ connectionString: config.DATABASE_URL });
}
