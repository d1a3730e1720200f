import type { EntryStatus } from "@/lib/generated/prisma/enums";

// The workflow's state machine: which stage follows which, and the progress it stands for. Shared
// by the server and the browser. The worker's and the API's SQL take their status lists from it
// (lib/server/entries/columns.ts), the page its labels and colours from components/status-look.tsx.

export const STATUSES = ["CREATED", "STAGE_1", "STAGE_2", "COMPLETED", "FAILED"] as const satisfies readonly EntryStatus[];

export const PROGRESS: Record<EntryStatus, number | null> = {
  CREATED: 0,
  STAGE_1: 33,
  STAGE_2: 66,
  COMPLETED: 100,
  FAILED: null, // keeps the progress it had when it failed
};

const NEXT: Partial<Record<EntryStatus, EntryStatus>> = {
  CREATED: "STAGE_1",
  STAGE_1: "STAGE_2",
  STAGE_2: "COMPLETED",
};

/** The error kept on an entry that was cancelled (it ends FAILED). */
export const CANCELLED_ERROR = "Cancelled";

export const TERMINAL_STATUSES: readonly EntryStatus[] = ["COMPLETED", "FAILED"];

export function isTerminal(status: EntryStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The status an entry moves to when its current stage's work succeeds; null once terminal. */
export function nextStatus(status: EntryStatus): EntryStatus | null {
  return NEXT[status] ?? null;
}

/** Legal moves: one stage forward, or to FAILED from any non-terminal status. */
export function canTransition(from: EntryStatus, to: EntryStatus): boolean {
  if (isTerminal(from)) return false;
  return to === "FAILED" || nextStatus(from) === to;
}

/** Where a FAILED entry resumes when retried: after the last stage it completed (its progress). */
export function resumeStatus(progress: number): EntryStatus {
  if (progress >= 66) return "STAGE_2";
  if (progress >= 33) return "STAGE_1";
  return "CREATED";
}
