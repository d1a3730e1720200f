// The benchmark's peer: graphile-worker (the best-known PostgreSQL job queue for Node.js), run as a
// process of its own with a no-op task, exactly as its docs describe the two ways to run it:
//   default  — each of `concurrentJobs` workers fetches one job per query and completes it alone;
//   batched  — the pool locks up to 500 jobs per query (localQueue) and completes them in batches
//              (completeJobBatchDelay), the docs' "performance → batching" settings.
// `node --import tsx bench/graphile-peer.ts <default|batched> <connectionString>`; prints "ready"
// once its runner has started, stops on SIGTERM.
import { Logger, run } from "graphile-worker";

const [mode, connectionString] = process.argv.slice(2);
if ((mode !== "default" && mode !== "batched") || !connectionString) {
  console.error("usage: graphile-peer.ts <default|batched> <connectionString>");
  process.exit(2);
}

const runner = await run({
  connectionString,
  concurrency: 10,
  maxPoolSize: 12,
  noHandleSignals: true,
  // Its default logger prints a line per completed job; the peer gets its best case, warnings only.
  logger: new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") console.error(`[graphile-worker] ${message}`);
  }),
  // The batching settings live in the preset (graphile-config), not in the legacy options.
  ...(mode === "batched" ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } } : {}),
  taskList: { noop: async () => {} },
});
console.log("ready");
process.once("SIGTERM", () => void runner.stop().then(() => process.exit(0)));
await runner.promise;
