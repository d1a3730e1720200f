import "server-only";
import { createHash } from "node:crypto";
import { after, NextResponse, type NextRequest } from "next/server";
import { z } from "zod";
import { ApiError } from "@/lib/server/api-error";
import type { Queryable } from "@/lib/server/db";
import type { Entry } from "@/lib/server/entries/columns";
import { entryJson } from "@/lib/server/entries/json";
import { idempotentRequest, once, type Outcome } from "@/lib/server/idempotency";
import { getInProcessWorker } from "@/lib/server/worker/in-process";
import { entryIdSchema } from "@/lib/validation";

// What route handlers share: the one error envelope and the wrapper that answers in it, reading a
// JSON body, the query string and the route's entry id safely, ETag answers, and handing an
// entry to this process's worker. Handlers throw ApiError (or let zod throw); withErrors answers.
// Anything unexpected becomes a 500 that reveals nothing.

export function errorResponse(error: unknown): NextResponse {
  if (error instanceof z.ZodError) {
    const details = error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    const first = details[0];
    const message = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : "Invalid input";
    return jsonError(new ApiError(400, "validation_error", message, details));
  }
  if (error instanceof ApiError) return jsonError(error);
  console.error("Unhandled error in API route:", error);
  return jsonError(new ApiError(500, "internal_error", "Something went wrong on our side."));
}

function jsonError(e: ApiError) {
  return NextResponse.json(e.envelope(), { status: e.status, headers: e.headers });
}

/** The answer of an idempotent request: its status and body, marked when replayed from a kept one. */
export function answer({ status, body, replayed }: Outcome) {
  return NextResponse.json(body, { status, headers: replayed ? { "Idempotent-Replayed": "true" } : undefined });
}

/** Wraps a route handler so that whatever it throws is answered in the one error envelope. */
export function withErrors<Args extends unknown[]>(handler: (...args: Args) => Promise<Response>) {
  return async (...args: Args): Promise<Response> => {
    try {
      return await handler(...args);
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** The handler for every method a route does not offer: 405 in the one envelope, with Allow. */
export function methodNotAllowed(allowed: string[]) {
  return async () =>
    errorResponse(
      new ApiError(405, "method_not_allowed", `This endpoint accepts ${allowed.join(", ")}`, undefined, {
        Allow: allowed.join(", "),
      }),
    );
}

/** The route context of /api/entries/[id]/…; Next.js 16 passes params as a Promise. */
export type EntryRouteContext = { params: Promise<{ id: string }> };

/** The entry id of the route, checked to be a UUID before any query (400 otherwise). */
export async function entryIdFrom({ params }: EntryRouteContext): Promise<string> {
  return entryIdSchema.parse((await params).id);
}

/**
 * Hands an entry to this web process's worker, if it runs one, after the response is sent
 * (Next's after()): the spec's "processing starts right after creation", without making the
 * client wait for a claim. Standalone workers find the entry anyway (NOTIFY, the sweep).
 */
export function handToWorker(entryId: string) {
  after(() => getInProcessWorker()?.processEntry(entryId));
}

export const MAX_BODY_BYTES = 16 * 1024;

/**
 * Reads a JSON request body and parses it with `schema`. Refuses, before any database work:
 * a non-JSON content type (415), a body over MAX_BODY_BYTES (413, without reading the rest),
 * text that is not JSON (400), and JSON that the schema rejects (400).
 */
export async function readJson<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  const contentType = req.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new ApiError(415, "unsupported_media_type", "Send the body as JSON with Content-Type: application/json");
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw tooLarge();

  const text = await readLimited(req, MAX_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "The request body is not valid JSON");
  }
  return schema.parse(body);
}

async function readLimited(req: Request, maxBytes: number): Promise<string> {
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(chunks));
}

const tooLarge = () =>
  new ApiError(413, "payload_too_large", `The request body must be at most ${MAX_BODY_BYTES} bytes`);

/** The query string as a plain object; a key given twice is refused rather than silently picked. */
export function searchParamsOf(req: NextRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of req.nextUrl.searchParams) {
    if (key in out) throw new ApiError(400, "bad_request", `Query parameter "${key}" was given more than once`);
    out[key] = value;
  }
  return out;
}

/**
 * A JSON answer with an ETag made from its bytes; 304 with no body when the client already has
 * exactly this (If-None-Match). Pollers then pay for the query but not for the transfer.
 */
export function jsonWithEtag(req: Request, body: unknown, init: { status?: number; headers?: Record<string, string> } = {}) {
  const text = JSON.stringify(body);
  const etag = `W/"${createHash("sha1").update(text).digest("base64url")}"`;
  const headers = { ...init.headers, ETag: etag, "Cache-Control": "no-cache" };
  if (req.headers.get("if-none-match")?.split(",").some((t) => t.trim() === etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(text, { status: init.status ?? 200, headers: { ...headers, "Content-Type": "application/json" } });
}

/**
 * POST /api/entries/:id/<operation>: runs it on the route's entry, once per Idempotency-Key, and
 * answers the entry as it left it. `resumes`: the operation can make the entry runnable again
 * (retry, release), so it is handed to this process's worker at once.
 */
export function entryOperation(operation: (id: string, db: Queryable) => Promise<Entry>, { resumes }: { resumes: boolean }) {
  return withErrors(async (req: Request, context: EntryRouteContext) => {
    const id = await entryIdFrom(context);
    const outcome = await once(idempotentRequest(req), async (db) => {
      const entry = await operation(id, db);
      if (resumes) handToWorker(entry.id);
      return { status: 200, body: await entryJson(entry) };
    });
    return answer(outcome);
  });
}
