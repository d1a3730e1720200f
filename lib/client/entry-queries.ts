"use client";

import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { EntryStatus } from "@/lib/generated/prisma/enums";
import { ApiRequestError, apiFetch } from "@/lib/client/api-fetch";
import type { toEntryJson } from "@/lib/server/entries/json";
import type { EntryPage } from "@/lib/server/entries/list";
import type { StageExecutionRow } from "@/lib/server/entries/reads";
import type { StatusCounts } from "@/lib/server/entries/stats";
import type { Jsonified } from "@/lib/utils";
import type { CreateEntryInput } from "@/lib/validation";

// The entries, as the browser asks for them: query keys, query options and the hooks components
// use. The shapes are the server's own types as JSON carries them (type imports only: nothing of
// the server reaches the browser bundle).

/** How often the entries list is refetched when the live stream is not live. Pauses while the tab is hidden. */
export const POLL_INTERVAL_MS = 2000;

/** An entry as it arrives over JSON: dates are ISO strings, plus its lock health. */
export type EntryJson = Jsonified<ReturnType<typeof toEntryJson>>;
export type LockHealthJson = NonNullable<EntryJson["lock"]>;
export type StageExecutionJson = Jsonified<StageExecutionRow>;
export type { StatusCounts };
export type EntryPageJson = Jsonified<Omit<EntryPage, "entries">> & { entries: EntryJson[] };

export interface ListParams {
  limit: number;
  offset: number;
  status?: EntryStatus;
  q?: string;
}

export const entryKeys = {
  all: ["entries"] as const,
  lists: ["entries", "list"] as const,
  list: (params: ListParams) => ["entries", "list", params] as const,
  detail: (id: string) => ["entries", "detail", id] as const,
  stageExecutions: (id: string) => ["entries", "stage-executions", id] as const,
};

export function entriesQueryOptions(params: ListParams, live = false) {
  const search = new URLSearchParams({ limit: String(params.limit), offset: String(params.offset) });
  if (params.status) search.set("status", params.status);
  if (params.q) search.set("q", params.q);
  return queryOptions({
    queryKey: entryKeys.list(params),
    queryFn: ({ signal }) => apiFetch<EntryPageJson>(`/api/entries?${search}`, { signal }),
    // While the live stream is connected, it says when to refetch; otherwise poll.
    refetchInterval: live ? false : POLL_INTERVAL_MS,
    refetchIntervalInBackground: false,
    // Keep showing the current page while the next one loads, and the last good data when a poll fails.
    placeholderData: keepPreviousData,
    retry: 1,
  });
}

export function useEntries(params: ListParams, live = false) {
  return useQuery(entriesQueryOptions(params, live));
}

export function useEntry(id: string | null) {
  return useQuery({
    queryKey: entryKeys.detail(id ?? ""),
    queryFn: ({ signal }) => apiFetch<EntryJson>(`/api/entries/${id}`, { signal }),
    enabled: id !== null,
    refetchInterval: POLL_INTERVAL_MS,
  });
}

/** The entry's stage executions (GET /api/entries/:id/events): the timeline of its detail sheet. */
export function useStageExecutions(id: string | null) {
  return useQuery({
    queryKey: entryKeys.stageExecutions(id ?? ""),
    queryFn: ({ signal }) => apiFetch<{ events: StageExecutionJson[] }>(`/api/entries/${id}/events`, { signal }),
    enabled: id !== null,
    refetchInterval: POLL_INTERVAL_MS,
    select: (data) => data.events,
  });
}

/**
 * POST /api/entries with an Idempotency-Key: one key per submission (the caller keeps it while the
 * same title is resubmitted), so a double click, or a request retried after a dropped connection,
 * never makes a second entry. Requests that never got an answer are retried twice with that key.
 */
export function useCreateEntry() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ key, ...input }: CreateEntryInput & { key: string }) =>
      apiFetch<EntryJson>("/api/entries", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(input),
      }),
    retry: (failures, error) => failures < 2 && error instanceof ApiRequestError && error.status === 0,
    retryDelay: (failures) => 300 * 2 ** failures,
    onSuccess: (entry) => {
      // Show the new entry at once on an unfiltered first page, then let the server's answer replace it.
      queryClient.setQueriesData<EntryPageJson>({ queryKey: entryKeys.lists }, (page) =>
        page && page.offset === 0
          ? { ...page, total: page.total + 1, entries: [entry, ...page.entries].slice(0, page.limit) }
          : page,
      );
      void queryClient.invalidateQueries({ queryKey: entryKeys.all });
    },
  });
}

/** POST /api/entries/:id/{retry|cancel|release}, then refresh everything about entries. */
export function useEntryAction(action: "retry" | "cancel" | "release") {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => apiFetch<EntryJson>(`/api/entries/${id}/${action}`, { method: "POST" }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: entryKeys.all }),
  });
}
