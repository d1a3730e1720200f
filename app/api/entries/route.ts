import { after, NextResponse, type NextRequest } from "next/server";
import { createEntry, listEntries } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";
import { readJson, searchParamsOf } from "@/lib/http";
import { limitCreates } from "@/lib/rate-limit";
import { createEntrySchema, listEntriesQuerySchema } from "@/lib/validation";
import { getInProcessWorker } from "@/lib/worker";

// POST /api/entries – create an entry; processing starts right after the response is sent
export const POST = withErrors(async (req: NextRequest) => {
  await limitCreates(req);
  const { title } = await readJson(req, createEntrySchema);
  const entry = await createEntry(title);
  after(() => getInProcessWorker()?.processEntry(entry.id));
  return NextResponse.json(entry, { status: 201 });
});

// GET /api/entries?limit=50&offset=0 – list, newest first
export const GET = withErrors(async (req: NextRequest) => {
  const query = listEntriesQuerySchema.parse(searchParamsOf(req));
  return NextResponse.json(await listEntries(query));
});

export const PATCH = methodNotAllowed(["GET", "POST"]);
export const PUT = PATCH;
export const DELETE = PATCH;
