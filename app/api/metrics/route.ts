import { metrics } from "@/lib/metrics";
import { withErrors } from "@/lib/errors";

// GET /api/metrics – Prometheus text format
export const GET = withErrors(async () => {
  const body = await metrics.registry.metrics();
  return new Response(body, { headers: { "Content-Type": metrics.registry.contentType } });
});
