"use client";

import { useState } from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { ChevronLeft, ChevronRight, WifiOff } from "lucide-react";
import { CreateEntryDialog } from "@/components/create-entry-dialog";
import { EntriesTable } from "@/components/entries-table";
import { Button } from "@/components/ui/button";
import { useEntries } from "@/lib/api";

const PAGE_SIZE = 20;

/** The live part of /entries: the table, its pagination, the create dialog, the connection notice. */
export function EntriesView() {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const page = Math.max(1, Number.parseInt(searchParams.get("page") ?? "1", 10) || 1);
  const [dialogOpen, setDialogOpen] = useState(false);

  const query = useEntries({ limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  const data = query.data;
  const pageCount = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;

  const goTo = (next: number) => {
    const params = new URLSearchParams(searchParams);
    if (next <= 1) params.delete("page");
    else params.set("page", String(next));
    const qs = params.toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  };

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <p className="text-sm text-muted-foreground" aria-live="polite">
          {data ? `${data.total} ${data.total === 1 ? "entry" : "entries"}` : "\u00a0"}
        </p>
        <CreateEntryDialog open={dialogOpen} onOpenChange={setDialogOpen} />
      </div>

      {/* A failed poll keeps the last data on screen; this says so without blocking anything. */}
      {query.isError && data && (
        <div role="status" className="flex items-center gap-2 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
          <WifiOff className="size-4" aria-hidden />
          Connection lost, retrying… The table shows the last data received.
        </div>
      )}

      <EntriesTable entries={data?.entries} isLoading={query.isPending} error={query.error} onCreate={() => setDialogOpen(true)} />

      {data && data.total > PAGE_SIZE && (
        <nav aria-label="Pagination" className="flex items-center justify-between gap-3 text-sm">
          <span className="text-muted-foreground">
            {data.offset + 1}–{Math.min(data.offset + data.entries.length, data.total)} of {data.total}
          </span>
          <div className="flex items-center gap-2">
            <Button variant="outline" size="sm" onClick={() => goTo(page - 1)} disabled={page <= 1}>
              <ChevronLeft /> Previous
            </Button>
            <span className="tabular-nums">
              Page {page} of {pageCount}
            </span>
            <Button variant="outline" size="sm" onClick={() => goTo(page + 1)} disabled={page >= pageCount}>
              Next <ChevronRight />
            </Button>
          </div>
        </nav>
      )}
    </div>
  );
}
