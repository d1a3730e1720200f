// Runs once when a Next.js server starts (not during `next build`).
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { config } = await import("@/lib/server/config");
  if (!config.DATABASE_URL) {
    throw new Error("DATABASE_URL is not set. Start the app with `npm run dev` or `npm start`, which provide one.");
  }
  // Per-client rules need the connecting peer's address, which Next.js does not pass on.
  const { recordPeerAddresses } = await import("@/lib/server/client-identity");
  recordPeerAddresses();
  const { startInProcessWorker } = await import("@/lib/server/worker/in-process");
  startInProcessWorker();
  // The live feed listens from the start, so readiness can tell how live updates reach this server.
  const { entryChangeFeed } = await import("@/lib/server/live-feed");
  entryChangeFeed.start();
  const { startPruningIdempotencyKeys } = await import("@/lib/server/idempotency");
  startPruningIdempotencyKeys();
}
