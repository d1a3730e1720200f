"use client";

import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Entry } from "@/lib/generated/prisma/client";
import type { CreateEntryInput } from "@/lib/validation";

// The browser's side of the API: the typed fetcher, the query keys, and the hooks components use.
// Components never call fetch themselves.

/** How often the entries list is refetched. Polling pauses while the tab is hidden. */
export const POLL_INTERVAL_MS = 2000;

/** An entry as it arrives over JSON: dates are ISO strings. */
export type EntryJson = { [K in keyof Entry]: Entry[K] extends Date ? string : Entry[K] extends Date | null ? string | null : Entry[K] };

export interface EntryPageJson {
  entries: EntryJson[];
  total: number;
  limit: number;
  offset: number;
}

export interface ListParams {
  limit: number;
  offset: number;
}

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

async function apiFetch<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: "application/json", ...init?.headers } });
  } catch {
    throw new ApiRequestError(0, "network_error", "Could not reach the server");
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = body?.error;
    throw new ApiRequestError(res.status, error?.code ?? "http_error", error?.message ?? `Request failed (${res.status})`, error?.details);
  }
  return body as T;
}

export const entryKeys = {
  all: ["entries"] as const,
  list: (params: ListParams) => ["entries", "list", params] as const,
};

export function entriesQueryOptions(params: ListParams) {
  return queryOptions({
    queryKey: entryKeys.list(params),
    queryFn: ({ signal }) =>
      apiFetch<EntryPageJson>(`/api/entries?limit=${params.limit}&offset=${params.offset}`, { signal }),
    refetchInterval: POLL_INTERVAL_MS,
    refetchIntervalInBackground: false,
    // Keep showing the current page while the next one loads, and the last good data when a poll fails.
    placeholderData: keepPreviousData,
    retry: 1,
  });
}

export function useEntries(params: ListParams) {
  return useQuery(entriesQueryOptions(params));
}

export function useCreateEntry() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: CreateEntryInput) =>
      apiFetch<EntryJson>("/api/entries", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(input),
      }),
    onSuccess: (entry) => {
      // Show the new entry at once on the first page, then let the server's answer replace it.
      queryClient.setQueriesData<EntryPageJson>({ queryKey: ["entries", "list"] }, (page) =>
        page && page.offset === 0
          ? { ...page, total: page.total + 1, entries: [entry, ...page.entries].slice(0, page.limit) }
          : page,
      );
      void queryClient.invalidateQueries({ queryKey: entryKeys.all });
    },
  });
}
