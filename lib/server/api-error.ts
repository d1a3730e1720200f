// The API's errors: what a handler (or the data layer under it) throws to answer a client with
// a 4xx. No Next.js import here: the data layer throws these, and the standalone worker loads it.
// lib/server/http.ts turns them into the one envelope, { "error": { "code", "message", "details"? } }.

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
  | "idempotency_key_reused"
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

  /** The body every error answers with: { "error": { "code", "message", "details"? } }. */
  envelope() {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export const notFound = (message = "Entry not found") => new ApiError(404, "not_found", message);
export const conflict = (message: string) => new ApiError(409, "conflict", message);
