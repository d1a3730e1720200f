"use client";

import { useEffect, useRef, useState } from "react";
import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Entry, EntryStatus, StageExecution } from "@/lib/generated/prisma/client";
import type { Jsonified } from "@/lib/utils";
import type { CreateEntryInput } from "@/lib/validation";

// The browser's side of the API: the typed fetcher, the query keys, and the hooks components use.
// Components never call fetch themselves.

/** How often the entries list is refetched when the live stream is not connected. Pauses while the tab is hidden. */
export const POLL_INTERVAL_MS = 2000;
/** While the live stream is connected: the most often a burst of changes triggers a refetch. */
const LIVE_REFETCH_MS = 1000;

export interface LockHealthJson {
  holder: string;
  since: string;
  expiresAt: string;
  holderAlive: boolean | null;
  expired: boolean;
}

/** An entry as it arrives over JSON: dates are ISO strings, plus its lock health. */
export type EntryJson = Jsonified<Entry> & { lock?: LockHealthJson | null };
export type StageExecutionJson = Omit<Jsonified<StageExecution>, "id"> & { id: number };
export type StatusCounts = Record<EntryStatus, number>;

export interface EntryPageJson {
  entries: EntryJson[];
  total: number;
  limit: number;
  offset: number;
  nextCursor: string | null;
  counts: StatusCounts;
}

export interface ListParams {
  limit: number;
  offset: number;
  status?: EntryStatus;
  q?: string;
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

export const entryKeys = {
  all: ["entries"] as const,
  lists: ["entries", "list"] as const,
  list: (params: ListParams) => ["entries", "list", params] as const,
  detail: (id: string) => ["entries", "detail", id] as const,
  events: (id: string) => ["entries", "events", id] as const,
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

export function useEntryEvents(id: string | null) {
  return useQuery({
    queryKey: entryKeys.events(id ?? ""),
    queryFn: ({ signal }) => apiFetch<{ events: StageExecutionJson[] }>(`/api/entries/${id}/events`, { signal }),
    enabled: id !== null,
    refetchInterval: POLL_INTERVAL_MS,
    select: (data) => data.events,
  });
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

/**
 * Subscribes to GET /api/entries/stream. While it is connected, entry changes trigger refetches
 * (at most one a second: a busy system sends many events, and each refetch is a poll's worth of
 * work) and polling stops; when it drops, `live` turns false so polling takes
 * over, and EventSource keeps reconnecting by itself.
 */
export function useLiveUpdates(): { live: boolean } {
  const queryClient = useQueryClient();
  const [live, setLive] = useState(false);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource("/api/entries/stream");
    source.onopen = () => {
      setLive(true);
      // Whatever changed while disconnected was not streamed: read it all again once.
      void queryClient.invalidateQueries({ queryKey: entryKeys.all });
    };
    source.onerror = () => setLive(false);
    source.addEventListener("entry", () => {
      pending.current ??= setTimeout(() => {
        pending.current = null;
        void queryClient.invalidateQueries({ queryKey: entryKeys.all });
      }, LIVE_REFETCH_MS);
    });
    return () => {
      source.close();
      if (pending.current) clearTimeout(pending.current);
    };
  }, [queryClient]);

  return { live };
}
