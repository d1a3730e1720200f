// Runs once when a Next.js server starts (not during `next build`).
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { config } = await import("@/lib/config");
  if (!config.DATABASE_URL) {
    throw new Error("DATABASE_URL is not set. Start the app with `npm run dev` or `npm start`, which provide one.");
  }
  if (!config.WORKER_ENABLED) return;
  const { startInProcessWorker } = await import("@/lib/worker");
  const worker = startInProcessWorker();
  // Best effort: stop claiming and hand back locks on shutdown. If the process dies first, the
  // locks expire after LOCK_TTL_MS and another worker resumes the entries.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void worker.stop());
  }
}
