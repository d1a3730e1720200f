// `npm run worker`: the stage worker alone, no web server. Run as many as you like, on any host
// that reaches the database; they share the backlog through row locks and SKIP LOCKED.
import { config } from "@/lib/server/config";
import { logger } from "@/lib/server/logger";
import { StageWorker, workerOptionsFromConfig } from "@/lib/server/worker/stage-worker";
import { stopOnSignals } from "@/lib/server/worker/stop-on-signals";

if (!config.DATABASE_URL) {
  logger.fatal("DATABASE_URL is not set; start workers with `npm run worker`, which provides one");
  process.exit(1);
}

const worker = new StageWorker(workerOptionsFromConfig());
worker.start();
stopOnSignals(worker);
