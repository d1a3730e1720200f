import { NextResponse } from "next/server";
import { readiness } from "@/lib/server/health";

// GET /api/health/ready – 200 when the database answers, migrations are applied and a worker beats; else 503
export async function GET() {
  const result = await readiness();
  return NextResponse.json(result, { status: result.ready ? 200 : 503 });
}
