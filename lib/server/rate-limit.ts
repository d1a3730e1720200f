import "server-only";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { config } from "@/lib/server/config";
import { ApiError } from "@/lib/server/api-error";
import { clientAddress } from "@/lib/server/client-identity";

// Per-client limit on creates, kept in this process's memory (each web process counts on its own;
// put a shared limiter at the proxy when running many). Checked before the body is read.
const limiter =
  config.RATE_LIMIT_CREATES_PER_MINUTE > 0
    ? new RateLimiterMemory({ points: config.RATE_LIMIT_CREATES_PER_MINUTE, duration: 60 })
    : null;


export async function limitCreates(req: Request) {
  if (!limiter) return;
  try {
    await limiter.consume(clientAddress(req.headers));
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    throw new ApiError(429, "rate_limited", `Too many entries created; try again in ${retryAfter} s`, undefined, {
      "Retry-After": String(retryAfter),
    });
  }
}
