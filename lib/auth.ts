import { createHash, timingSafeEqual } from "node:crypto";
import { config } from "@/lib/config";
import { ApiError } from "@/lib/errors";

// The internal API (PATCH /api/entries/:id) is for operators and tools holding INTERNAL_API_TOKEN.

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
  const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!given || !sameSecret(given, expected)) {
    throw new ApiError(401, "unauthorized", "Missing or wrong bearer token", undefined, {
      "WWW-Authenticate": 'Bearer realm="internal"',
    });
  }
}

// Compares digests, not the strings: constant time whatever the lengths, which a plain
// timingSafeEqual on the raw values would leak by throwing.
function sameSecret(a: string, b: string) {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
