import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { z } from "zod";

// Every setting the app reads from the environment, parsed once. Nothing else reads process.env.
const intFromEnv = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback);

const booleanFromEnv = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"])
    .transform((v) => ["true", "1", "yes", "on"].includes(v))
    .default(fallback);

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string")
    .optional(),
  /** Connections per process; the worker's claims and the API share them. */
  DB_POOL_SIZE: intFromEnv(10, 1, 100),
  EMBEDDED_PG_PORT: intFromEnv(54329, 1024, 65535),
  EMBEDDED_PG_DIR: z.string().min(1).default(".data/postgres"),
  /** How long each stage's simulated work takes. */
  STAGE_DELAY_MS: intFromEnv(2000, 0, 3_600_000),
  /** A lock older than this counts as abandoned and may be reclaimed. */
  LOCK_TTL_MS: intFromEnv(120_000, 100, 86_400_000),
});

export type Config = z.infer<typeof envSchema> & { workerId: string };

export class ConfigError extends Error {}

export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment configuration:\n${lines.join("\n")}`);
  }
  return {
    ...parsed.data,
    // Unique per process so a lock names its holder: host, pid, and a random part for pid reuse.
    workerId: `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
  };
}

export const config: Config = parseConfig();
