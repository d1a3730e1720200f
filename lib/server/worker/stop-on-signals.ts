import { pool } from "@/lib/server/db";
import { logger } from "@/lib/server/logger";
import type { StageWorker } from "@/lib/server/worker/stage-worker";

// Ctrl-C reaches a process twice within milliseconds (from the terminal, and again from a parent
// such as `next dev` passing it on); only a signal this long after the first means "hurry".
const SAME_PRESS_MS = 1000;

/**
 * SIGINT/SIGTERM stop the worker — stages in hand finish within the grace period, the rest hand
 * their locks back — then the process exits. A second signal cuts the grace period short.
 */
export function stopOnSignals(worker: StageWorker | null) {
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === 0) {
      firstAt = Date.now();
      logger.info({ signal }, "stopping: finishing the stages in hand, then handing back every lock (again to hurry)");
      void (worker?.stop() ?? Promise.resolve())
        .then(() => pool.end())
        .catch((error: unknown) => logger.error({ err: error }, "stopping the worker failed"))
        .finally(() => process.exit(0));
    } else if (Date.now() - firstAt >= SAME_PRESS_MS) {
      logger.warn({ signal }, "stopping now: interrupting the stages in hand and handing back their locks");
      void worker?.stop();
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
