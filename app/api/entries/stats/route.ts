import { NextResponse } from "next/server";
import { entryStats } from "@/lib/server/entries/stats";
import { methodNotAllowed, withErrors } from "@/lib/server/http";

// GET /api/entries/stats – entries per status, queue depth, oldest waiting, throughput over the last minute
export const GET = withErrors(async () => NextResponse.json(await entryStats()));

const notAllowed = methodNotAllowed(["GET"]);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
