import nextEnv from "@next/env";
import { defineConfig } from "prisma/config";
import { embeddedDatabaseUrl, parseConfig } from "./lib/server/config";

// Only Prisma's CLI reads this file (`prisma generate`, and `prisma migrate …` / `prisma studio`
// where Prisma's engine can be downloaded). It resolves the database exactly as the app does: env
// files loaded the way Next.js loads them (.env, .env.local, .env.development…), validated by the
// app's own config; with no DATABASE_URL anywhere, the embedded server that `npm run dev` runs.
// DIRECT_URL, when set, is the one the CLI uses: migrations need PostgreSQL itself, not a pooler.
nextEnv.loadEnvConfig(process.cwd(), process.env.NODE_ENV !== "production", { info: () => {}, error: console.error });
const config = parseConfig();

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: config.DIRECT_URL ?? config.DATABASE_URL ?? embeddedDatabaseUrl(config.EMBEDDED_PG_PORT) },
});
