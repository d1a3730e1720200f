import { NextResponse, type NextRequest } from "next/server";
import { getEntry, updateEntry } from "@/lib/entries";
import { withErrors } from "@/lib/errors";
import { readJson } from "@/lib/http";
import { entryIdSchema, updateEntrySchema } from "@/lib/validation";

type Context = { params: Promise<{ id: string }> };

// GET /api/entries/:id – one entry
export const GET = withErrors(async (_req: NextRequest, { params }: Context) => {
  const id = entryIdSchema.parse((await params).id);
  return NextResponse.json(await getEntry(id));
});

// PATCH /api/entries/:id – internal: set status and/or progress
export const PATCH = withErrors(async (req: NextRequest, { params }: Context) => {
  const id = entryIdSchema.parse((await params).id);
  const input = await readJson(req, updateEntrySchema);
  return NextResponse.json(await updateEntry(id, input));
});
