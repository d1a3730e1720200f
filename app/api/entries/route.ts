import { after, NextResponse, type NextRequest } from "next/server";
import { createEntry, currentLockRule, entryJson, listChangedSince, listEntries, toEntryJson } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";
import { jsonWithEtag, readJson, searchParamsOf } from "@/lib/http";
import { limitCreates } from "@/lib/rate-limit";
import { createEntrySchema, listEntriesQuerySchema } from "@/lib/validation";
import { getInProcessWorker } from "@/lib/server/worker/in-process";

// POST /api/entries – create an entry; processing starts right after the response is sent
export const POST = withErrors(async (req: NextRequest) => {
  await limitCreates(req);
  const { title } = await readJson(req, createEntrySchema);
  const entry = await createEntry(title);
  after(() => getInProcessWorker()?.processEntry(entry.id));
  return NextResponse.json(await entryJson(entry), { status: 201 });
});

// GET /api/entries?limit&offset|cursor&status&q – a page, newest first, with exact total and counts;
// GET /api/entries?updatedSince=<ISO> – only the entries changed since then, oldest change first
export const GET = withErrors(async (req: NextRequest) => {
  const query = listEntriesQuerySchema.parse(searchParamsOf(req));
  const rule = await currentLockRule();
  if (query.updatedSince) {
    const entries = await listChangedSince(query.updatedSince, query.limit);
    const latest = entries.at(-1)?.updatedAt ?? query.updatedSince;
    return jsonWithEtag(req, {
      entries: entries.map((e) => toEntryJson(e, rule)),
      updatedSince: query.updatedSince,
      // Ask next with this; when `more` is true, ask again at once.
      nextUpdatedSince: latest,
      more: entries.length === query.limit,
    });
  }
  const page = await listEntries(query);
  return jsonWithEtag(req, { ...page, entries: page.entries.map((e) => toEntryJson(e, rule)) });
});

export const PATCH = methodNotAllowed(["GET", "POST"]);
export const PUT = PATCH;
export const DELETE = PATCH;
