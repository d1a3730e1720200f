// The browser's one way to call the API: JSON in, JSON out, errors as ApiRequestError carrying the
// API's error envelope. Components never call fetch themselves (they use lib/client/entry-queries.ts).

/** An error answered by the API, in its `{ error: { code, message, details } }` envelope. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export async function apiFetch<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: "application/json", ...init?.headers } });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiRequestError(0, "network_error", "Could not reach the server");
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = body?.error;
    throw new ApiRequestError(res.status, error?.code ?? "http_error", error?.message ?? `Request failed (${res.status})`, error?.details);
  }
  return body as T;
}

/**
 * A fresh Idempotency-Key (a random UUID v4). Built from getRandomValues, which every page has;
 * crypto.randomUUID exists only on secure origins, and the dev server may be opened over plain
 * HTTP from another machine.
 */
export function newIdempotencyKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
