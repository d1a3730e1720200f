import type { NextRequest } from "next/server";
import { requireMetricsToken } from "@/lib/server/auth";
import { withErrors } from "@/lib/server/http";
import { metrics } from "@/lib/server/metrics";

// GET /api/metrics – Prometheus text format (bearer METRICS_TOKEN when set)
export const GET = withErrors(async (req: NextRequest) => {
  requireMetricsToken(req);
  const body = await metrics.registry.metrics();
  return new Response(body, { headers: { "Content-Type": metrics.registry.contentType } });
});
