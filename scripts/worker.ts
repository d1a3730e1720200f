// `npm run worker`: the stage worker alone, no web server. Run as many as you like, on any host
// that reaches the database; they share the backlog through row locks and SKIP LOCKED.
import { config } from "@/lib/config";
import { prisma } from "@/lib/db";
import { logger } from "@/lib/logger";
import { StageWorker, workerOptionsFromConfig } from "@/lib/worker";

if (!config.DATABASE_URL) {
  logger.fatal("DATABASE_URL is not set; start workers with `npm run worker`, which provides one");
  process.exit(1);
}

const worker = new StageWorker(workerOptionsFromConfig());
worker.start();

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    await worker.stop();
    await prisma.$disconnect();
    process.exit(0);
  });
}
