import client from "prom-client";
import { entryStats } from "@/lib/server/entries/stats";

// Prometheus metrics (GET /api/metrics). Entry counts, queue depth and the oldest waiting entry are
// read from the database at scrape time, so every web process reports the same truth. Stage
// durations, attempts and lock reclaims are counted by the worker running in this process; a
// standalone worker's own counts are in its logs.

function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "async_workflow_process_" });

  const queueDepth = new client.Gauge({ name: "async_workflow_queue_depth", help: "Entries not yet COMPLETED or FAILED", registers: [] });
  const oldestWaiting = new client.Gauge({
    name: "async_workflow_oldest_waiting_seconds",
    help: "Age of the oldest due entry no worker holds (0 when none waits)",
    registers: [],
  });
  const scrapeOk = new client.Gauge({ name: "async_workflow_scrape_ok", help: "1 when the database answered this scrape", registers: [] });
  // Registered first, so its collect() (one set of queries per scrape) runs before the gauges it
  // fills are written out.
  registry.registerMetric(
    new client.Gauge({
      name: "async_workflow_entries",
      help: "Entries by status",
      labelNames: ["status"] as const,
      registers: [],
      async collect() {
        try {
          const stats = await entryStats();
          for (const [status, n] of Object.entries(stats.counts)) this.set({ status }, n);
          queueDepth.set(stats.queueDepth);
          oldestWaiting.set(stats.oldestWaitingSeconds);
          scrapeOk.set(1);
        } catch {
          scrapeOk.set(0);
        }
      },
    }),
  );
  for (const metric of [queueDepth, oldestWaiting, scrapeOk]) registry.registerMetric(metric);

  return {
    registry,
    stageDuration: new client.Histogram({
      name: "async_workflow_stage_duration_seconds",
      help: "From claim to recorded outcome, per stage reached",
      labelNames: ["stage", "outcome"] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    stageAttempts: new client.Counter({
      name: "async_workflow_stage_attempts_total",
      help: "Stage executions finished by this process's worker, by outcome",
      labelNames: ["stage", "outcome"] as const,
      registers: [registry],
    }),
    lockReclaims: new client.Counter({
      name: "async_workflow_lock_reclaims_total",
      help: "Entries claimed from a holder whose lock had expired",
      registers: [registry],
    }),
  };
}

// One set per process, on globalThis: instrumentation.ts and route handlers are bundled apart.
const registry = globalThis as unknown as { asyncWorkflowMetrics?: ReturnType<typeof createMetrics> };
export const metrics = (registry.asyncWorkflowMetrics ??= createMetrics());
