"use client";

import { useEffect, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { entryKeys, POLL_INTERVAL_MS } from "@/lib/client/entry-queries";

/** While the live stream is live: the most often a burst of changes triggers a refetch. */
const LIVE_REFETCH_MS = 1000;
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
