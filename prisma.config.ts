import "dotenv/config";
import { defineConfig } from "prisma/config";

// Only the CLI reads this file. DATABASE_URL is optional here: `prisma generate` needs none, and
// `npm run db:migrate` applies migrations itself (see scripts/migrate.ts).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/unused" },
});
