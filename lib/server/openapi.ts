import { z } from "zod";
import { createDocument, type ZodOpenApiResponsesObject } from "zod-openapi";
import { STATUSES } from "@/lib/stages";
import {
  createEntrySchema,
  entryIdSchema,
  idempotencyKeySchema,
  listEntriesQuerySchema,
  statusSchema,
  updateEntrySchema,
} from "@/lib/validation";

// GET /api/openapi.json: the API described in OpenAPI 3.1, generated from zod schemas. What a
// request may carry comes from the very schemas the handlers parse with (lib/validation.ts). What
// an answer holds is described here; the integration tests check every answer they receive against
// this document (status listed, body valid, no field it does not name), so it cannot drift from
// what the server does.

// ── What answers hold ────────────────────────────────────────────────────────────────────────

const time = z.iso.datetime().meta({ description: "An instant, ISO 8601 in UTC" });

const errorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: "A stable, machine-readable code: validation_error, not_found, conflict…" }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: "Error", description: "Every error answers in this one envelope." });

const lockSchema = z
  .object({
    holder: z.string().meta({ description: "The lock token: the worker's id and a claim number, `host:pid:random#17`" }),
    since: time,
    expiresAt: time.meta({ description: "When the lock lapses by age alone (LOCK_TTL_MS)" }),
    holderAlive: z.boolean().nullable().meta({ description: "Whether the holding worker process is alive; null when it cannot be told" }),
    expired: z.boolean().meta({ description: "Any worker may take the lock now" }),
  })
  .meta({ id: "LockHealth" });

const entrySchema = z
  .object({
    id: entryIdSchema,
    title: z.string(),
    status: statusSchema.meta({ id: "EntryStatus" }),
    progress: z.int().min(0).max(100),
    lockedBy: z.string().nullable(),
    lockedAt: time.nullable(),
    result: z.json().meta({ id: "JsonValue" }).nullable().meta({ description: "On COMPLETED: { completedAt, message }" }),
    error: z.string().nullable(),
    attempts: z.int().min(0),
    runAt: time,
    version: z.int().min(0).meta({ description: "Incremented by every write; the ETag is \"v<version>\"" }),
    cancelRequestedAt: time.nullable(),
    createdAt: time,
    updatedAt: time,
    lock: lockSchema.nullable(),
  })
  .meta({ id: "Entry" });

const statusCountsSchema = z.object(Object.fromEntries(STATUSES.map((s) => [s, z.int().min(0)])) as Record<(typeof STATUSES)[number], z.ZodInt>).meta({ id: "StatusCounts" });

const entryPageSchema = z
  .object({
    entries: z.array(entrySchema),
    total: z.int().min(0).meta({ description: "Entries matching the filters, exact" }),
    limit: z.int(),
    offset: z.int(),
    nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last one" }),
    counts: statusCountsSchema,
  })
  .meta({ id: "EntryPage" });

const changesPageSchema = z
  .object({
    entries: z.array(entrySchema),
    updatedSince: time,
    nextUpdatedSince: time.meta({ description: "Ask next with this" }),
    more: z.boolean().meta({ description: "More changes wait: ask again at once" }),
  })
  .meta({ id: "ChangedEntries" });

const stageExecutionSchema = z
  .object({
    id: z.int(),
    entryId: entryIdSchema,
    fromStatus: statusSchema,
    toStatus: statusSchema,
    workerId: z.string(),
    attempt: z.int().min(1),
    startedAt: time,
    finishedAt: time,
    outcome: z.enum(["SUCCEEDED", "FAILED"]),
    error: z.string().nullable(),
    retryAt: time.nullable(),
  })
  .meta({ id: "StageExecution" });

const statsSchema = z
  .object({
    counts: statusCountsSchema,
    total: z.int().min(0),
    queueDepth: z.int().min(0),
    oldestWaitingSeconds: z.number().min(0),
    lastMinute: z.object({ stagesCompleted: z.int(), stagesFailed: z.int(), entriesCompleted: z.int(), perSecond: z.number() }),
  })
  .meta({ id: "Stats" });

const readinessSchema = z
  .object({
    ready: z.boolean(),
    checks: z.object({ database: z.boolean(), migrations: z.boolean(), worker: z.boolean() }),
    detail: z.object({
      pendingMigrations: z.array(z.string()),
      liveWorkers: z.array(z.string()),
      liveUpdates: z.enum(["listening", "polling", "starting"]),
      error: z.string().optional(),
    }),
  })
  .meta({ id: "Readiness" });

// ── Headers ──────────────────────────────────────────────────────────────────────────────────

const etag = z.object({ ETag: z.string().meta({ description: "The entry's version (strong) or the page's content (weak)" }) });
const replayed = z.object({
  "Idempotent-Replayed": z
    .literal("true")
    .optional()
    .meta({ description: "\"true\" when this is the kept answer to an earlier request with the same Idempotency-Key" }),
});
const idempotencyHeaders = z.object({ "idempotency-key": idempotencyKeySchema.optional() });

// ── Responses ────────────────────────────────────────────────────────────────────────────────

const ERROR_MEANINGS: Record<number, string> = {
  400: "Malformed request: the envelope says which input",
  401: "Missing or wrong bearer token",
  403: "The endpoint is disabled (no token configured)",
  404: "No such entry",
  409: "The entry's state does not allow it (or an idempotent first request is still working)",
  412: "If-Match names another version",
  413: "Body over 16 KiB",
  415: "Body is not JSON",
  422: "This Idempotency-Key was used with a different request",
  429: "Too many creates from this client; see Retry-After",
  500: "Something went wrong on the server; nothing about it is revealed",
};

function errors(...statuses: number[]): ZodOpenApiResponsesObject {
  return Object.fromEntries(
    [400, ...statuses, 500].map((status) => [
      String(status),
      {
        description: ERROR_MEANINGS[status]!,
        content: { "application/json": { schema: errorSchema } },
        ...(status === 429 ? { headers: z.object({ "Retry-After": z.string().meta({ description: "Seconds to wait" }) }) } : {}),
        ...(status === 401 ? { headers: z.object({ "WWW-Authenticate": z.string() }) } : {}),
      },
    ]),
  );
}

const json = (schema: z.ZodType, description: string, headers?: z.ZodObject) => ({
  description,
  content: { "application/json": { schema } },
  ...(headers ? { headers } : {}),
});

const entryPath = { path: z.object({ id: entryIdSchema }) };

const operation = (summary: string, description: string) => ({
  summary,
  requestParams: { ...entryPath, header: idempotencyHeaders },
  description,
  responses: { "200": json(entrySchema, "The entry as the operation left it", replayed), ...errors(404, 409, 422) },
});

function buildDocument() {
  return createDocument(
    {
      openapi: "3.1.0",
      info: {
        title: "Async Workflow API",
        version: "1.0.0",
        description: "Entries advanced by a background worker: CREATED → STAGE_1 → STAGE_2 → COMPLETED (or FAILED).",
      },
      components: {
        securitySchemes: {
          internalToken: { type: "http", scheme: "bearer", description: "INTERNAL_API_TOKEN, for the internal PATCH" },
          metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, when the server sets it" },
        },
      },
      paths: {
        "/api/entries": {
          post: {
            summary: "Create an entry",
            description: "Processing starts right after the answer. With an Idempotency-Key, a repeat gets the first answer and creates nothing.",
            requestParams: { header: idempotencyHeaders },
            requestBody: { required: true, content: { "application/json": { schema: createEntrySchema } } },
            responses: { "201": json(entrySchema, "The new entry (CREATED, progress 0)", replayed), ...errors(409, 413, 415, 422, 429) },
          },
          get: {
            summary: "List entries, or what changed since a moment",
            description: "Newest first, with exact totals; `updatedSince` answers only the entries changed since then, oldest change first.",
            requestParams: {
              query: listEntriesQuerySchema,
              header: z.object({ "if-none-match": z.string().optional().meta({ description: "A page's ETag: 304 when unchanged" }) }),
            },
            responses: {
              "200": json(z.union([entryPageSchema, changesPageSchema]), "A page (or, with updatedSince, the changes)", etag),
              "304": { description: "Unchanged since the ETag given in If-None-Match", headers: etag },
              ...errors(),
            },
          },
        },
        "/api/entries/{id}": {
          get: {
            summary: "One entry",
            requestParams: { ...entryPath, header: z.object({ "if-none-match": z.string().optional() }) },
            responses: {
              "200": json(entrySchema, "The entry", etag),
              "304": { description: "Unchanged since the ETag given in If-None-Match", headers: etag },
              ...errors(404),
            },
          },
          patch: {
            summary: "Move an entry by hand (internal)",
            description: "A legal move only: one stage forward, or to FAILED. Refused while a live worker holds the entry.",
            security: [{ internalToken: [] }],
            requestParams: { ...entryPath, header: z.object({ "if-match": z.string().optional().meta({ description: "The version read: 412 if it changed" }) }) },
            requestBody: { required: true, content: { "application/json": { schema: updateEntrySchema } } },
            responses: { "200": json(entrySchema, "The updated entry", etag), ...errors(401, 403, 404, 409, 412, 413, 415) },
          },
        },
        "/api/entries/{id}/events": {
          get: {
            summary: "The entry's stage executions, oldest first",
            requestParams: entryPath,
            responses: { "200": json(z.object({ events: z.array(stageExecutionSchema) }), "Every finished stage execution"), ...errors(404) },
          },
        },
        "/api/entries/{id}/retry": { post: operation("Retry a FAILED entry", "It resumes after its last completed stage.") },
        "/api/entries/{id}/cancel": { post: operation("Cancel an entry", "At once if no live worker holds it, else at its next stage boundary.") },
        "/api/entries/{id}/release": { post: operation("Free an abandoned lock", "Refused (409) while the holder is alive.") },
        "/api/entries/stream": {
          get: {
            summary: "Live changes (Server-Sent Events)",
            description: "`ready` first; then `entry` (an entry as JSON) per changed version, `resync` (refetch the list), `ping` every 2 s.",
            responses: { "200": { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } } },
          },
        },
        "/api/entries/stats": {
          get: { summary: "Counts, queue depth, throughput", responses: { "200": json(statsSchema, "The numbers"), ...errors() } },
        },
        "/api/health/live": {
          get: { summary: "The process answers", responses: { "200": json(z.object({ status: z.literal("ok") }), "Alive") } },
        },
        "/api/health/ready": {
          get: {
            summary: "Ready to serve",
            responses: { "200": json(readinessSchema, "Ready"), "503": json(readinessSchema, "Not ready: `checks` says which part") },
          },
        },
        "/api/metrics": {
          get: {
            summary: "Prometheus metrics",
            security: [{}, { metricsToken: [] }],
            responses: { "200": { description: "Text exposition format", content: { "text/plain": { schema: z.string() } } }, ...errors(401) },
          },
        },
        "/api/openapi.json": {
          get: { summary: "This document", responses: { "200": json(z.record(z.string(), z.unknown()), "OpenAPI 3.1") } },
        },
      },
    },
  );
}

let document: ReturnType<typeof buildDocument> | undefined;

/** The document, built once per process. */
export function openApiDocument() {
  return (document ??= buildDocument());
}
