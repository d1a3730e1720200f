import "server-only";
import { createHash, timingSafeEqual } from "node:crypto";
import { config } from "@/lib/server/config";
import { ApiError } from "@/lib/server/api-error";

// Bearer tokens: INTERNAL_API_TOKEN guards the internal PATCH /api/entries/:id (for operators and
// tools), METRICS_TOKEN optionally guards /api/metrics (for the scraper).

/** Throws 403 when no token is configured, 401 when the request's bearer token is missing or wrong. */
export function requireInternalToken(req: Request) {
  const expected = config.INTERNAL_API_TOKEN;
  if (!expected) {
    throw new ApiError(
      403,
      "forbidden",
      "This internal endpoint is disabled. Set INTERNAL_API_TOKEN on the server, then send Authorization: Bearer <token>.",
    );
  }
  requireBearer(req, expected, "internal");
}

/** With METRICS_TOKEN set, throws 401 unless the request carries it; unset, the metrics are open. */
export function requireMetricsToken(req: Request) {
  if (config.METRICS_TOKEN) requireBearer(req, config.METRICS_TOKEN, "metrics");
}

function requireBearer(req: Request, expected: string, realm: string) {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!given || !sameSecret(given, expected)) {
    throw new ApiError(401, "unauthorized", "Missing or wrong bearer token", undefined, {
      "WWW-Authenticate": `Bearer realm="${realm}"`,
    });
  }
}

// Compares digests, not the strings: constant time whatever the lengths, which a plain
// timingSafeEqual on the raw values would leak by throwing.
function sameSecret(a: string, b: string) {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
