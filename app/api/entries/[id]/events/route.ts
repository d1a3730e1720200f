import { NextResponse, type NextRequest } from "next/server";
import { listStageExecutions } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";
import { entryIdSchema } from "@/lib/validation";

// GET /api/entries/:id/events – every recorded stage execution of the entry, oldest first
export const GET = withErrors(async (_req: NextRequest, { params }: { params: Promise<{ id: string }> }) => {
  const id = entryIdSchema.parse((await params).id);
  return NextResponse.json({ events: await listStageExecutions(id) });
});

export const POST = methodNotAllowed(["GET"]);
export const PUT = POST;
export const PATCH = POST;
export const DELETE = POST;
