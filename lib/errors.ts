import { NextResponse } from "next/server";
import { z } from "zod";

// One error envelope for the whole API: { "error": { "code", "message", "details"? } }.
// Handlers throw; `withErrors` answers. Anything unexpected becomes a 500 that reveals nothing.

export type ErrorCode =
  | "bad_request"
  | "invalid_json"
  | "validation_error"
  | "unsupported_media_type"
  | "payload_too_large"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "precondition_failed"
  | "rate_limited"
  | "internal_error";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (message = "Entry not found") => new ApiError(404, "not_found", message);
export const conflict = (message: string) => new ApiError(409, "conflict", message);

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
  const body = { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } };
  return NextResponse.json(body, { status: e.status, headers: e.headers });
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

/** A handler for the methods a route does not offer: 405 in the one envelope, with Allow. */
export function methodNotAllowed(allowed: string[]) {
  return async () =>
    errorResponse(
      new ApiError(405, "method_not_allowed", `This endpoint accepts ${allowed.join(", ")}`, undefined, {
        Allow: allowed.join(", "),
      }),
    );
}
