import type { NextRequest } from "next/server";
import { createEntry } from "@/lib/server/entries/create";
import { currentLockRule, entryJson, toEntryJson } from "@/lib/server/entries/json";
import { listEntries } from "@/lib/server/entries/list";
import { listChangedSince } from "@/lib/server/entries/reads";
import { answer, handToWorker, jsonWithEtag, methodNotAllowed, readJson, searchParamsOf, withErrors } from "@/lib/server/http";
import { idempotentRequest, once } from "@/lib/server/idempotency";
import { limitCreates } from "@/lib/server/rate-limit";
import { createEntrySchema, listEntriesQuerySchema } from "@/lib/validation";

// POST /api/entries – create an entry (once per Idempotency-Key); processing starts right after the response is sent
export const POST = withErrors(async (req: NextRequest) => {
  await limitCreates(req);
  const input = await readJson(req, createEntrySchema);
  const outcome = await once(idempotentRequest(req, input), async (db) => {
    const entry = await createEntry(input.title, db);
    handToWorker(entry.id);
    return { status: 201, body: await entryJson(entry) };
  });
  return answer(outcome);
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

const notAllowed = methodNotAllowed(["GET", "POST"]);
export { notAllowed as PATCH, notAllowed as PUT, notAllowed as DELETE };
