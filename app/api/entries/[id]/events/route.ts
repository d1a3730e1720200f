import { NextResponse, type NextRequest } from "next/server";
import { listStageExecutions } from "@/lib/server/entries/reads";
import { entryIdFrom, methodNotAllowed, withErrors, type EntryRouteContext } from "@/lib/server/http";

// GET /api/entries/:id/events – the entry's stage executions, oldest first (its timeline)
export const GET = withErrors(async (_req: NextRequest, context: EntryRouteContext) =>
  NextResponse.json({ events: await listStageExecutions(await entryIdFrom(context)) }),
);

const notAllowed = methodNotAllowed(["GET"]);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
