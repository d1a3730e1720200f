"use client";

import { useRef, useState } from "react";
import { Radio, WifiOff } from "lucide-react";
import { CreateEntryDialog } from "@/components/create-entry-dialog";
import { EntriesPagination } from "@/components/entries-pagination";
import { EntriesTable } from "@/components/entries-table";
import { EntryActions } from "@/components/entry-actions";
import { EntryDetailSheet } from "@/components/entry-detail-sheet";
import { SearchBox } from "@/components/search-box";
import { StatusFilter } from "@/components/status-filter";
import { useEntriesUrlState } from "@/lib/client/entries-url-state";
import { POLL_INTERVAL_MS, useEntries } from "@/lib/client/entry-queries";
import { useLiveUpdates } from "@/lib/client/live-updates";
import { cn } from "@/lib/utils";

const PAGE_SIZE = 20;

/** The live part of /entries: filters, search, the table, pagination, the detail sheet. */
export function EntriesView() {
  const { page, status, q, urlWith, replaceWith } = useEntriesUrlState();
  const [dialogOpen, setDialogOpen] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  // What opened the detail sheet (a title button): focus goes back there when it closes.
  const sheetOpener = useRef<HTMLElement | null>(null);

  const { live } = useLiveUpdates();
  const query = useEntries({ limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, status, q: q || undefined }, live);
  const data = query.data;

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <StatusFilter value={status} counts={data?.counts} hrefFor={(s) => urlWith({ status: s ?? null, page: null })} />
        <CreateEntryDialog open={dialogOpen} onOpenChange={setDialogOpen} />
      </div>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <SearchBox initial={q} onSearch={(text) => replaceWith({ q: text || null, page: null })} />
        <p className="flex items-center gap-1.5 text-xs text-muted-foreground" aria-live="polite" data-live={live}>
          <Radio className={cn("size-3.5", live && "text-emerald-600")} aria-hidden />
          {live ? "Live" : `Refreshing every ${POLL_INTERVAL_MS / 1000} s`}
          {data && ` · ${data.total} ${data.total === 1 ? "entry" : "entries"}`}
        </p>
      </div>

      {/* A failed poll keeps the last data on screen; this says so without blocking anything. */}
      {query.isError && data && (
        <div role="status" className="flex items-center gap-2 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
          <WifiOff className="size-4" aria-hidden />
          Connection lost, retrying… The table shows the last data received.
        </div>
      )}

      <EntriesTable
        entries={data?.entries}
        isLoading={query.isPending}
        error={query.error}
        onCreate={() => setDialogOpen(true)}
        onSelect={(id) => {
          sheetOpener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
          setSelected(id);
        }}
        renderActions={(entry) => <EntryActions entry={entry} />}
        emptyMessage={status || q ? "No entries match this view." : undefined}
      />

      {data && data.total > PAGE_SIZE && (
        <EntriesPagination
          page={page}
          pageSize={PAGE_SIZE}
          shown={data.entries.length}
          total={data.total}
          onPage={(p) => replaceWith({ page: p > 1 ? String(p) : null })}
        />
      )}

      <EntryDetailSheet entryId={selected} onClose={() => setSelected(null)} returnFocusTo={sheetOpener} />
    </div>
  );
}
