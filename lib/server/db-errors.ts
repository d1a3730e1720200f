// Which database errors are worth trying again: the ones that say nothing about the statement and
// everything about the connection or the server's state at that moment. A restart shows up as
// "the database system is shutting down" (57P01 on open sessions, 57P03 on new ones), then
// ECONNREFUSED until it listens again, then "the database system is starting up" (57P03).

const RETRYABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown: terminated by an administrator or a fast shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or shutting down
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

const RETRYABLE_SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

// node-postgres reports a dropped connection without a code.
const DROPPED_CONNECTION = /Connection terminated|Client has encountered a connection error|not queryable|timeout exceeded when trying to connect/i;

export function isRetryableDbError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    // Class 08: connection exception (PgBouncer too reports an unreachable server as 08P01).
    if (code.startsWith("08") || RETRYABLE_SQLSTATES.has(code) || RETRYABLE_SOCKET_CODES.has(code)) return true;
  }
  return DROPPED_CONNECTION.test(error.message);
}
