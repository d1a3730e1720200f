import { NextResponse } from "next/server";
import { entryStats } from "@/lib/entries";
import { methodNotAllowed, withErrors } from "@/lib/errors";

// GET /api/entries/stats – entries per status, queue depth, oldest waiting, throughput over the last minute
export const GET = withErrors(async () => NextResponse.json(await entryStats()));

export const POST = methodNotAllowed(["GET"]);
export const PUT = POST;
export const PATCH = POST;
export const DELETE = POST;
