import { NextResponse, type NextRequest } from "next/server";
import { requireInternalToken } from "@/lib/auth";
import { entryJson, etagOf, getEntry, updateEntry } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";
import { readJson } from "@/lib/http";
import { entryIdSchema, updateEntrySchema } from "@/lib/validation";

type Context = { params: Promise<{ id: string }> };

// GET /api/entries/:id – one entry, with its version as ETag (304 when unchanged)
export const GET = withErrors(async (req: NextRequest, { params }: Context) => {
  const id = entryIdSchema.parse((await params).id);
  const entry = await getEntry(id);
  const etag = etagOf(entry);
  if (req.headers.get("if-none-match") === etag) return new NextResponse(null, { status: 304, headers: { ETag: etag } });
  return NextResponse.json(await entryJson(entry), { headers: { ETag: etag } });
});

// PATCH /api/entries/:id – internal (bearer token): a legal status/progress move, If-Match honoured
export const PATCH = withErrors(async (req: NextRequest, { params }: Context) => {
  requireInternalToken(req);
  const id = entryIdSchema.parse((await params).id);
  const input = await readJson(req, updateEntrySchema);
  const entry = await updateEntry(id, input, req.headers.get("if-match"));
  return NextResponse.json(await entryJson(entry), { headers: { ETag: etagOf(entry) } });
});

export const POST = methodNotAllowed(["GET", "PATCH"]);
export const PUT = POST;
export const DELETE = POST;
