"use client";

import { useEffect, useState } from "react";
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

/** A stream silent for this many of its heartbeat periods is no longer trusted. */
const SILENT_PERIODS = 2.5;

/**
 * Subscribes to GET /api/entries/stream. While it is live, entry changes trigger refetches (at most
 * one a second: a busy system sends many events, and each refetch is a poll's worth of work) and
 * polling stops. It counts as live only while it speaks: the server sends `ping` every heartbeat
 * period, so a stream silent for SILENT_PERIODS of them (a frozen server, a proxy holding it) is
 * dropped back to 2 s polling, as is one that errors; EventSource keeps reconnecting by itself.
 */
export function useLiveUpdates(): { live: boolean } {
  const queryClient = useQueryClient();
  const [live, setLive] = useState(false);

  useEffect(() => {
    if (typeof EventSource === "undefined") return;
    const refetchAll = () => void queryClient.invalidateQueries({ queryKey: entryKeys.all });
    let trusted = false;
    let heartbeatMs = POLL_INTERVAL_MS;
    let silence: ReturnType<typeof setTimeout> | undefined;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const distrust = () => {
      clearTimeout(silence);
      trusted = false;
      setLive(false);
    };
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(distrust, heartbeatMs * SILENT_PERIODS);
      if (!trusted) {
        trusted = true;
        setLive(true);
        refetchAll(); // whatever changed while it was not trusted was not streamed
      }
    };
    const source = new EventSource("/api/entries/stream");
    source.addEventListener("ready", (event) => {
      heartbeatMs = (JSON.parse(event.data) as { heartbeatMs?: number }).heartbeatMs ?? heartbeatMs;
      heard();
    });
    source.addEventListener("ping", heard);
    source.addEventListener("entry", () => {
      heard();
      pending ??= setTimeout(() => {
        pending = null;
        refetchAll();
      }, LIVE_REFETCH_MS);
    });
    source.addEventListener("resync", () => {
      heard();
      refetchAll();
    });
    source.onerror = distrust;
    return () => {
      source.close();
      clearTimeout(silence);
      if (pending) clearTimeout(pending);
    };
  }, [queryClient]);

  return { live };
}
