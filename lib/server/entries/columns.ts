import type { Entry, EntryStatus } from "@/lib/generated/prisma/client";
import { TERMINAL_STATUSES, STATUSES } from "@/lib/stages";
import type { Jsonified } from "@/lib/utils";

// How entries are read and written: SQL on the pg pool, one module per concern in this folder,
// each statement naming the columns it returns.
//
// The pg pool's parser reads timestamptz correctly in any session time zone. Prisma's client
// (through @prisma/adapter-pg) reads and writes them as if the session were UTC (prisma/orm#26786,
// #28629), and behind a transaction-mode pooler nothing can make it so; schema.prisma stays the
// source of the schema, the migrations' format and these types.

export type { Entry, EntryStatus };

/** An entry read for the API's JSON only: its timestamps already ISO strings (see isoTextSql). */
export type EntryRow = Jsonified<Entry>;

// Statements name the columns they return: "Entry" also has the live feed's cursor ("changeTxid"),
// which no answer carries. The compiler checks this list against the model, both ways.
const ENTRY_FIELD_SET: Record<keyof Entry, true> = {
  id: true, title: true, status: true, progress: true, lockedBy: true, lockedAt: true, result: true, error: true,
  attempts: true, runAt: true, version: true, cancelRequestedAt: true, createdAt: true, updatedAt: true,
};
const ENTRY_FIELDS = Object.keys(ENTRY_FIELD_SET);
/** The select list of a whole entry, for "Entry" aliased `e`. */
export const ENTRY_COLUMNS = ENTRY_FIELDS.map((f) => `e."${f}"`).join(", ");

type DateFields<T> = { [K in keyof T]-?: Date extends T[K] ? K : never }[keyof T];
// Every timestamp field, checked by the compiler against the model (a missing or extra one fails to build).
const TIMESTAMP_FIELDS: Record<DateFields<Entry>, true> = { lockedAt: true, runAt: true, cancelRequestedAt: true, createdAt: true, updatedAt: true };

/**
 * SQL: a timestamptz as the ISO text Date#toJSON gives ("2026-11-29T07:29:01.807Z"), whatever the
 * session's time zone. The 2 s poll reads its rows this way: strings go through JSON.stringify on
 * V8's fast path, where Dates (objects with toJSON) took four times as long.
 */
export const isoTextSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const ENTRY_JSON_COLUMNS = ENTRY_FIELDS.map((f) => (f in TIMESTAMP_FIELDS ? `${isoTextSql(`e."${f}"`)} AS "${f}"` : `e."${f}"`)).join(", ");

/** SQL list of the statuses an entry still has stages ahead in: ('CREATED', 'STAGE_1', 'STAGE_2'). */
export const ACTIVE_STATUSES_SQL = `(${STATUSES.filter((s) => !TERMINAL_STATUSES.includes(s))
  .map((s) => `'${s}'`)
  .join(", ")})`;
