"use client";

import { useEffect, useRef, useState } from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { ChevronLeft, ChevronRight, Radio, Search, WifiOff } from "lucide-react";
import { CreateEntryDialog } from "@/components/create-entry-dialog";
import { StatusFilter } from "@/components/status-filter";
import { EntriesTable } from "@/components/entries-table";
import { EntryDetailSheet } from "@/components/entry-detail-sheet";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { useEntries, useLiveUpdates } from "@/lib/api";
import { statusSchema } from "@/lib/validation";

const PAGE_SIZE = 20;
const SEARCH_DEBOUNCE_MS = 300;

/** The live part of /entries. The view (status, search, page) lives in the URL, so it can be shared. */
export function EntriesView() {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const page = Math.max(1, Number.parseInt(searchParams.get("page") ?? "1", 10) || 1);
  const status = statusSchema.safeParse(searchParams.get("status")).data;
  const q = searchParams.get("q") ?? "";
  const [dialogOpen, setDialogOpen] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  // What opened the detail sheet (a title button): focus goes back there when it closes.
  const sheetOpener = useRef<HTMLElement | null>(null);

  const { live } = useLiveUpdates();
  const query = useEntries({ limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, status, q: q || undefined }, live);
  const data = query.data;
  const pageCount = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;

  const urlWith = (changes: Record<string, string | null>) => {
    const params = new URLSearchParams(searchParams);
    for (const [key, value] of Object.entries(changes)) {
      if (value) params.set(key, value);
      else params.delete(key);
    }
    const qs = params.toString();
    return qs ? `${pathname}?${qs}` : pathname;
  };
  const setParams = (changes: Record<string, string | null>) => router.replace(urlWith(changes), { scroll: false });

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <StatusFilter value={status} counts={data?.counts} hrefFor={(s) => urlWith({ status: s ?? null, page: null })} />
        <CreateEntryDialog open={dialogOpen} onOpenChange={setDialogOpen} />
      </div>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <SearchBox initial={q} onSearch={(text) => setParams({ q: text || null, page: null })} />
        <p className="flex items-center gap-1.5 text-xs text-muted-foreground" aria-live="polite" data-live={live}>
          <Radio className={`size-3.5 ${live ? "text-emerald-600" : ""}`} aria-hidden />
          {live ? "Live" : "Refreshing every 2 s"}
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
        emptyMessage={status || q ? "No entries match this view." : undefined}
      />

      {data && data.total > PAGE_SIZE && (
        <nav aria-label="Pagination" className="flex items-center justify-between gap-3 text-sm">
          <span className="text-muted-foreground">
            {data.offset + 1}–{Math.min(data.offset + data.entries.length, data.total)} of {data.total}
          </span>
          <div className="flex items-center gap-2">
            <Button variant="outline" size="sm" onClick={() => setParams({ page: page > 2 ? String(page - 1) : null })} disabled={page <= 1}>
              <ChevronLeft /> Previous
            </Button>
            <span className="tabular-nums">
              Page {page} of {pageCount}
            </span>
            <Button variant="outline" size="sm" onClick={() => setParams({ page: String(page + 1) })} disabled={page >= pageCount}>
              Next <ChevronRight />
            </Button>
          </div>
        </nav>
      )}

      <EntryDetailSheet entryId={selected} onClose={() => setSelected(null)} returnFocusTo={sheetOpener} />
    </div>
  );
}

/** Searches as you type, once typing pauses. */
function SearchBox({ initial, onSearch }: { initial: string; onSearch: (text: string) => void }) {
  const [text, setText] = useState(initial);
  // The latest callback, without restarting the debounce each time the parent re-renders.
  const onSearchRef = useRef(onSearch);
  onSearchRef.current = onSearch;
  useEffect(() => {
    if (text.trim() === initial) return;
    const timer = setTimeout(() => onSearchRef.current(text.trim()), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, initial]);
  return (
    <div className="relative w-full sm:w-72">
      <Search className="pointer-events-none absolute left-2.5 top-2.5 size-4 text-muted-foreground" aria-hidden />
      <Input
        type="search"
        aria-label="Search titles"
        placeholder="Search titles…"
        className="pl-8"
        value={text}
        maxLength={200}
        onChange={(e) => setText(e.target.value)}
      />
    </div>
  );
}
