import { NextResponse, type NextRequest } from "next/server";
import { cancelEntry, entryJson } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";
import { entryIdSchema } from "@/lib/validation";

// POST /api/entries/:id/cancel – stop a non-terminal entry at its next stage boundary (409 if finished)
export const POST = withErrors(async (_req: NextRequest, { params }: { params: Promise<{ id: string }> }) => {
  const id = entryIdSchema.parse((await params).id);
  return NextResponse.json(await entryJson(await cancelEntry(id)));
});

export const GET = methodNotAllowed(["POST"]);
export const PUT = GET;
export const PATCH = GET;
export const DELETE = GET;
