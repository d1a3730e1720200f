import { NextResponse } from "next/server";
import { methodNotAllowed } from "@/lib/server/http";
import { openApiDocument } from "@/lib/server/openapi";

// GET /api/openapi.json – the API in OpenAPI 3.1, generated from its zod schemas
export function GET() {
  return NextResponse.json(openApiDocument());
}

const notAllowed = methodNotAllowed(["GET"]);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
