import pino from "pino";
import pretty from "pino-pretty";
import { config } from "@/lib/server/config";

// Structured JSON logs (one object a line) in production; readable lines in development.
// pino-pretty runs as a synchronous stream, not a worker-thread transport, so it survives bundling.
export const logger = pino(
  { level: config.LOG_LEVEL, base: { pid: process.pid } },
  config.NODE_ENV === "development" ? pretty({ colorize: true, sync: true, ignore: "pid,hostname" }) : undefined,
);
