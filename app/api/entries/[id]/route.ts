import { NextResponse, type NextRequest } from "next/server";
import { requireInternalToken } from "@/lib/server/auth";
import { entryJson, etagOf } from "@/lib/server/entries/json";
import { getEntry } from "@/lib/server/entries/reads";
import { updateEntry } from "@/lib/server/entries/update";
import { entryIdFrom, methodNotAllowed, readJson, withErrors, type EntryRouteContext } from "@/lib/server/http";
import { updateEntrySchema } from "@/lib/validation";

// GET /api/entries/:id – one entry, with its version as ETag (304 when unchanged)
export const GET = withErrors(async (req: NextRequest, context: EntryRouteContext) => {
  const entry = await getEntry(await entryIdFrom(context));
  const etag = etagOf(entry);
  if (req.headers.get("if-none-match") === etag) return new NextResponse(null, { status: 304, headers: { ETag: etag } });
  return NextResponse.json(await entryJson(entry), { headers: { ETag: etag } });
});

// PATCH /api/entries/:id – internal (bearer token): a legal status/progress move, If-Match honoured
export const PATCH = withErrors(async (req: NextRequest, context: EntryRouteContext) => {
  requireInternalToken(req);
  const id = await entryIdFrom(context);
  const input = await readJson(req, updateEntrySchema);
  const entry = await updateEntry(id, input, req.headers.get("if-match"));
  return NextResponse.json(await entryJson(entry), { headers: { ETag: etagOf(entry) } });
});

const notAllowed = methodNotAllowed(["GET", "PATCH"]);
export { notAllowed as POST, notAllowed as PUT, notAllowed as DELETE };
