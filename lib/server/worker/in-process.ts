import { config } from "@/lib/server/config";
import { logger } from "@/lib/server/logger";
import { StageWorker, workerOptionsFromConfig } from "@/lib/server/worker/stage-worker";
import { stopOnSignals } from "@/lib/server/worker/stop-on-signals";

// The web process's own worker (unless WORKER_ENABLED=false), started from instrumentation.ts. It
// lives on globalThis: instrumentation.ts and the route handlers are bundled separately and would
// otherwise each see their own module instance.
const registry = globalThis as unknown as { webProcess?: { worker: StageWorker | null } };

/** Starts this web process's worker (if enabled) and its stop on SIGINT/SIGTERM; once per process. */
export function startInProcessWorker(): StageWorker | null {
  if (!registry.webProcess) {
    const worker = config.WORKER_ENABLED ? new StageWorker(workerOptionsFromConfig()) : null;
    registry.webProcess = { worker };
    // Next.js exits on SIGINT/SIGTERM by itself unless NEXT_MANUAL_SIG_HANDLE is set, which
    // `npm run dev` / `npm start` do; then this process's own handler exits, after the worker has
    // handed back its locks. Without it a stop may cut the hand-back short, and the locks wait
    // for the liveness rule (seconds) instead of being free at once.
    if (config.NEXT_MANUAL_SIG_HANDLE) stopOnSignals(worker);
    else if (worker) logger.warn("NEXT_MANUAL_SIG_HANDLE is not set: start the app with `npm run dev` / `npm start` so a stop hands back its locks");
    worker?.start();
  }
  return registry.webProcess.worker;
}

/** The worker of this web process, if it runs one: new entries are handed to it directly. */
export function getInProcessWorker(): StageWorker | undefined {
  return registry.webProcess?.worker ?? undefined;
}
