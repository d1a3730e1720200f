import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { config } from "@/lib/config";

// The one place that constructs the Prisma client. Cached on globalThis so that Next's hot reload
// in development does not open a new connection pool on every edit.
// DATABASE_URL may be unset while `next build` loads modules; the server's start checks it
// (instrumentation.ts), so no request ever runs without it.
function createPrismaClient() {
  const adapter = new PrismaPg({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE });
  return new PrismaClient({ adapter });
}

const globalForPrisma = globalThis as unknown as { prisma?: ReturnType<typeof createPrismaClient> };

export const prisma = globalForPrisma.prisma ?? createPrismaClient();

if (config.NODE_ENV !== "production") globalForPrisma.prisma = prisma;
