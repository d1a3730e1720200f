import { createHash } from "node:crypto";
import type { NextRequest } from "next/server";
import type { z } from "zod";
import { ApiError } from "@/lib/errors";

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
