import { z } from "zod";
import { STATUSES } from "@/lib/stages";

// Every input the app accepts, as zod schemas. The create dialog and the route handlers import the
// same ones, so the browser and the server cannot disagree about what a valid title is.

export const TITLE_MAX = 200;

// Control characters (C0, DEL, C1) have no place in a one-line title and break logs and terminals.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

export const titleSchema = z
  .string({ error: "Title must be a string" })
  .trim()
  .min(1, "Title is required")
  .max(TITLE_MAX, `Title must be at most ${TITLE_MAX} characters`)
  .refine((t) => !CONTROL_CHARS.test(t), "Title must not contain control characters");

export const createEntrySchema = z.strictObject({ title: titleSchema });
export type CreateEntryInput = z.infer<typeof createEntrySchema>;

export const statusSchema = z.enum(STATUSES, { error: `Status must be one of ${STATUSES.join(", ")}` });

export const updateEntrySchema = z
  .strictObject({
    status: statusSchema.optional(),
    progress: z
      .number({ error: "Progress must be a number" })
      .int("Progress must be a whole number")
      .min(0, "Progress must be between 0 and 100")
      .max(100, "Progress must be between 0 and 100")
      .optional(),
  })
  .refine((v) => v.status !== undefined || v.progress !== undefined, "Give a status, a progress, or both");
export type UpdateEntryInput = z.infer<typeof updateEntrySchema>;

export const entryIdSchema = z.uuid({ error: "Entry id must be a UUID" });

// Query strings arrive as text; only plain decimal integers are accepted ("1e3", "0x10", "5.0" are not).
const queryInt = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().min(min, `${name} must be between ${min} and ${max}`).max(max, `${name} must be between ${min} and ${max}`))
    .default(fallback);

export const LIMIT_MAX = 100;

/** A position in the newest-first order: the last entry of the previous page, as opaque text. */
export interface PageCursor {
  createdAt: Date;
  id: string;
}

// base64url without Node's Buffer: this module is the browser's too. A cursor is ASCII.
const toBase64Url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromBase64Url = (text: string) => {
  try {
    return atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return "";
  }
};

/** The cursor for the page after this entry (its createdAt as the ISO string the list reads). */
export function encodeCursor({ createdAt, id }: { createdAt: string; id: string }): string {
  return toBase64Url(`${createdAt}|${id}`);
}

const cursorSchema = z
  .string()
  .max(200)
  .transform((text, ctx): PageCursor => {
    const [iso, id] = fromBase64Url(text).split("|");
    const createdAt = new Date(iso ?? "");
    if (!id || Number.isNaN(createdAt.getTime()) || !z.uuid().safeParse(id).success) {
      ctx.addIssue({ code: "custom", message: "cursor is not one this API gave out" });
      return z.NEVER;
    }
    return { createdAt, id };
  });

export const listEntriesQuerySchema = z
  .object({
    limit: queryInt("limit", 1, LIMIT_MAX, 50),
    offset: queryInt("offset", 0, 100_000_000, 0),
    /** Keyset pagination: the `nextCursor` of the previous page. Cheap at any depth, unlike offset. */
    cursor: cursorSchema.optional(),
    status: statusSchema.optional(),
    /** Case-insensitive search in titles. */
    q: z
      .string()
      .trim()
      .max(TITLE_MAX, `q must be at most ${TITLE_MAX} characters`)
      .refine((t) => !CONTROL_CHARS.test(t), "q must not contain control characters")
      .optional(),
    /** Change-only polling: entries whose updatedAt is later than this instant, oldest change first. */
    updatedSince: z.iso.datetime({ offset: true, error: "updatedSince must be an ISO 8601 timestamp" }).transform((s) => new Date(s)).optional(),
  })
  .refine((q) => !(q.cursor && q.offset > 0), "Give either cursor or offset, not both")
  .refine((q) => !(q.updatedSince && (q.cursor || q.offset > 0)), "updatedSince pages by time, not by cursor or offset");
export type ListEntriesQuery = z.infer<typeof listEntriesQuerySchema>;

/**
 * The Idempotency-Key header of a create, retry or cancel: 1–255 printable ASCII characters (a
 * UUID per request is the usual choice). A repeat with the same key gets the first answer.
 */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, "Idempotency-Key must be 1 to 255 printable ASCII characters")
  .refine((key) => key.trim() === key, "Idempotency-Key must not start or end with a space");
