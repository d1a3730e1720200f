"use client";

import { useEffect, useRef, useState } from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { ChevronLeft, ChevronRight, Radio, Search, WifiOff } from "lucide-react";
import { CreateEntryDialog } from "@/components/create-entry-dialog";
import { EntriesTable } from "@/components/entries-table";
import { EntryDetailSheet } from "@/components/entry-detail-sheet";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Tabs, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { useEntries, useLiveUpdates, type StatusCounts } from "@/lib/api";
import { STATUSES } from "@/lib/stages";
import { statusSchema } from "@/lib/validation";

const PAGE_SIZE = 20;
const SEARCH_DEBOUNCE_MS = 300;
const STATUS_LABEL: Record<(typeof STATUSES)[number], string> = {
  CREATED: "Created",
  STAGE_1: "Stage 1",
  STAGE_2: "Stage 2",
  COMPLETED: "Completed",
  FAILED: "Failed",
};

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

  const { live } = useLiveUpdates();
  const query = useEntries({ limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, status, q: q || undefined }, live);
  const data = query.data;
  const pageCount = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;

  const setParams = (changes: Record<string, string | null>) => {
    const params = new URLSearchParams(searchParams);
    for (const [key, value] of Object.entries(changes)) {
      if (value) params.set(key, value);
      else params.delete(key);
    }
    const qs = params.toString();
    router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  };

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <StatusTabs value={status} counts={data?.counts} onChange={(s) => setParams({ status: s ?? null, page: null })} />
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
        onSelect={setSelected}
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

      <EntryDetailSheet entryId={selected} onClose={() => setSelected(null)} />
    </div>
  );
}

function StatusTabs({
  value,
  counts,
  onChange,
}: {
  value: (typeof STATUSES)[number] | undefined;
  counts: StatusCounts | undefined;
  onChange: (status: (typeof STATUSES)[number] | undefined) => void;
}) {
  const total = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : undefined;
  return (
    <Tabs className="min-w-0 max-w-full" value={value ?? "ALL"} onValueChange={(v) => onChange(v === "ALL" ? undefined : statusSchema.parse(v))}>
      <TabsList aria-label="Filter by status">
        <TabsTrigger value="ALL">
          All <Count n={total} />
        </TabsTrigger>
        {STATUSES.map((s) => (
          <TabsTrigger key={s} value={s}>
            {STATUS_LABEL[s]} <Count n={counts?.[s]} />
          </TabsTrigger>
        ))}
      </TabsList>
    </Tabs>
  );
}

function Count({ n }: { n: number | undefined }) {
  if (n === undefined) return null;
  return <span className="rounded bg-background/60 px-1 text-xs tabular-nums text-muted-foreground">{n}</span>;
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
