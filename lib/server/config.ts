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

const rateFromEnv = (fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, "must be a number from 0 to 1")
    .transform(Number)
    .default(fallback);

const postgresUrl = z
  .string()
  .trim()
  .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string")
  .optional();

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: postgresUrl,
  /** A direct (session) connection for what a transaction-mode pooler cannot carry: LISTEN and migrations. Unset: DATABASE_URL. */
  DIRECT_URL: postgresUrl,
  /** Connections per process, shared by the API and the worker. A list request uses two at once
   *  (page and counts), so 20 keeps 10 concurrent pollers from queueing for connections. */
  DB_POOL_SIZE: intFromEnv(20, 1, 100),
  EMBEDDED_PG_PORT: intFromEnv(54329, 1024, 65535),
  EMBEDDED_PG_DIR: z.string().min(1).default(".data/postgres"),
  /** How long each stage's simulated work takes. */
  STAGE_DELAY_MS: intFromEnv(2000, 0, 3_600_000),
  /** A lock older than this counts as abandoned and may be reclaimed. */
  LOCK_TTL_MS: intFromEnv(120_000, 100, 86_400_000),
  /** Whether the web server runs a worker too; off when only standalone workers (`npm run worker`) should. */
  WORKER_ENABLED: booleanFromEnv(true),
  /** Entries one worker process holds and works on at once. */
  WORKER_CONCURRENCY: intFromEnv(500, 1, 10_000),
  /** Upper bound on rows claimed by one statement. */
  WORKER_BATCH_SIZE: intFromEnv(500, 1, 10_000),
  /** How often an idle worker looks for work nobody announced: expired locks, due retries. */
  SWEEP_INTERVAL_MS: intFromEnv(2000, 50, 600_000),
  /** Attempts per stage before the entry ends as FAILED. */
  MAX_ATTEMPTS: intFromEnv(3, 1, 100),
  /** Backoff before retry n is RETRY_BASE_MS × 2^(n-1), capped at RETRY_MAX_MS, with jitter. */
  RETRY_BASE_MS: intFromEnv(1000, 0, 3_600_000),
  RETRY_MAX_MS: intFromEnv(60_000, 0, 86_400_000),
  /** Failure injection: the share of stage executions that fail on purpose (0 = none). */
  FAILURE_RATE: rateFromEnv(0),
  /** On SIGTERM/SIGINT, how long to let stages in hand finish before releasing their locks. */
  SHUTDOWN_GRACE_MS: intFromEnv(10_000, 0, 600_000),
  /** Bearer token for the internal PATCH /api/entries/:id; unset, that endpoint answers 403. */
  INTERNAL_API_TOKEN: z.string().trim().min(16, "must be at least 16 characters").optional(),
  /** Creates per client per minute (POST /api/entries); 0 turns the limit off. Default: off in development, 120 otherwise. */
  RATE_LIMIT_CREATES_PER_MINUTE: intFromEnv(-1, 0, 1_000_000),
  /** Proxies of ours in front of the app, each appending to X-Forwarded-For; 0 = clients connect directly. */
  TRUST_PROXY_HOPS: intFromEnv(0, 0, 10),
  /** Bearer token for GET /api/metrics; unset, the endpoint is open. */
  METRICS_TOKEN: z.string().trim().min(16, "must be at least 16 characters").optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NEXT_RUNTIME: z.string().optional(),
  /** Set by `npm run dev` / `npm start`: Next.js leaves SIGINT/SIGTERM to the app, whose worker then hands back its locks before exiting. */
  NEXT_MANUAL_SIG_HANDLE: booleanFromEnv(false),
});

export type Config = z.infer<typeof envSchema> & { workerId: string };

/** The embedded server's login and database (scripts/run.ts starts it when DATABASE_URL is unset). */
export const EMBEDDED_LOGIN = { user: "postgres", password: "postgres" };
export const EMBEDDED_DATABASE = "async_workflow";

export function embeddedDatabaseUrl(port: number, database = EMBEDDED_DATABASE) {
  return `postgresql://${EMBEDDED_LOGIN.user}:${EMBEDDED_LOGIN.password}@127.0.0.1:${port}/${database}`;
}

export class ConfigError extends Error {}

export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment configuration:\n${lines.join("\n")}`);
  }
  const data = parsed.data;
  if (data.RATE_LIMIT_CREATES_PER_MINUTE === -1) {
    data.RATE_LIMIT_CREATES_PER_MINUTE = data.NODE_ENV === "development" ? 0 : 120;
  }
  return {
    ...data,
    // Unique per process so a lock names its holder: host, pid, and a random part for pid reuse.
    workerId: `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
  };
}

export const config: Config = parseConfig();
