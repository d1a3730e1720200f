import { after, NextResponse, type NextRequest } from "next/server";
import { entryJson, releaseEntryLock } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";
import { entryIdSchema } from "@/lib/validation";
import { getInProcessWorker } from "@/lib/server/worker/in-process";

// POST /api/entries/:id/release – free the lock of a holder that is gone (409 while it still beats)
export const POST = withErrors(async (_req: NextRequest, { params }: { params: Promise<{ id: string }> }) => {
  const id = entryIdSchema.parse((await params).id);
  const entry = await releaseEntryLock(id);
  after(() => getInProcessWorker()?.processEntry(id));
  return NextResponse.json(await entryJson(entry));
});

export const GET = methodNotAllowed(["POST"]);
export const PUT = GET;
export const PATCH = GET;
export const DELETE = GET;
