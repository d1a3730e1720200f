import { NextResponse } from "next/server";

// GET /api/health/live – the process answers; touches nothing else (also the benchmark's control route)
export function GET() {
  return NextResponse.json({ status: "ok" });
}
