"use client";

import { AlertCircle, Inbox, Plus } from "lucide-react";
import { EntryStatusBadge } from "@/components/entry-status-badge";
import { STATUS_LOOK } from "@/components/status-look";
import { RelativeTime } from "@/components/relative-time";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Progress } from "@/components/ui/progress";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import type { EntryJson } from "@/lib/client/entry-queries";
import { cn } from "@/lib/utils";

export interface EntriesTableProps {
  entries: EntryJson[] | undefined;
  isLoading: boolean;
  error: Error | null;
  onCreate?: () => void;
  /** Opens an entry's details; titles become buttons when given. */
  onSelect?: (id: string) => void;
  /** What a row offers (retry, cancel…), as the tasks example of shadcn/ui passes row actions in. */
  renderActions?: (entry: EntryJson) => React.ReactNode;
  /** Shown instead of the first-entry invitation when filters hide every entry. */
  emptyMessage?: string;
}

/** The entries with their stage, progress and outcome; also the loading, error and empty states. */
export function EntriesTable({ entries, isLoading, error, onCreate, onSelect, renderActions, emptyMessage }: EntriesTableProps) {
  if (!entries && isLoading) return <LoadingRows />;
  if (!entries && error) {
    return (
      <Alert variant="destructive">
        <AlertCircle />
        <AlertTitle>Could not load entries</AlertTitle>
        <AlertDescription>{error.message.replace(/\.$/, "")}. Retrying every few seconds.</AlertDescription>
      </Alert>
    );
  }
  if (entries?.length === 0 && emptyMessage) {
    return <p className="rounded-lg border border-dashed px-6 py-12 text-center text-sm text-muted-foreground">{emptyMessage}</p>;
  }
  if (!entries || entries.length === 0) {
    return (
      <div className="flex flex-col items-center gap-3 rounded-lg border border-dashed px-6 py-16 text-center">
        <Inbox className="size-10 text-muted-foreground" aria-hidden />
        <h2 className="text-lg font-semibold">No entries yet</h2>
        <p className="max-w-sm text-sm text-muted-foreground">
          Create an entry and watch the worker move it through Stage 1, Stage 2 and on to Completed.
        </p>
        {onCreate && (
          <Button onClick={onCreate}>
            <Plus /> Create your first entry
          </Button>
        )}
      </div>
    );
  }
  return (
    <div className="rounded-lg border">
      <Table aria-label="Entries">
        <TableHeader>
          <TableRow>
            <TableHead className="w-full sm:w-[40%]">Title</TableHead>
            <TableHead>Status</TableHead>
            <TableHead className="hidden min-w-36 sm:table-cell">Progress</TableHead>
            <TableHead className="hidden md:table-cell">Result</TableHead>
            <TableHead className="hidden sm:table-cell">Created</TableHead>
            <TableHead className="w-px">
              <span className="sr-only">Actions</span>
            </TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {entries.map((entry) => (
            <TableRow key={entry.id} data-entry-id={entry.id} data-status={entry.status}>
              <TableCell className="max-w-0 font-medium">
                {/* Rendered as text by React: titles can never inject markup. */}
                {onSelect ? (
                  <button
                    type="button"
                    className="block max-w-full truncate text-left underline-offset-4 hover:underline focus-visible:underline focus-visible:outline-none"
                    title={entry.title}
                    onClick={() => onSelect(entry.id)}
                  >
                    {entry.title}
                  </button>
                ) : (
                  <span className="block truncate" title={entry.title}>
                    {entry.title}
                  </span>
                )}
                {/* On a phone, progress and age sit under the title instead of in their own columns. */}
                <span className="mt-1.5 flex items-center gap-2 text-xs font-normal text-muted-foreground sm:hidden">
                  <Progress value={entry.progress} aria-hidden className="h-1.5 w-16 shrink-0" indicatorClassName={STATUS_LOOK[entry.status].bar} />
                  <span className="tabular-nums">{entry.progress}%</span>
                  <span className="truncate">
                    · <RelativeTime iso={entry.createdAt} />
                  </span>
                </span>
              </TableCell>
              <TableCell>
                <EntryStatusBadge status={entry.status} />
              </TableCell>
              <TableCell className="hidden sm:table-cell">
                <div className="flex items-center gap-2">
                  <Progress
                    value={entry.progress}
                    aria-label={`Progress of ${entry.title}`}
                    indicatorClassName={STATUS_LOOK[entry.status].bar}
                  />
                  <span className="w-9 text-right text-xs tabular-nums text-muted-foreground">{entry.progress}%</span>
                </div>
              </TableCell>
              <TableCell className="hidden max-w-64 md:table-cell">
                <EntryOutcome entry={entry} />
              </TableCell>
              <TableCell className="hidden whitespace-nowrap text-muted-foreground sm:table-cell">
                <RelativeTime iso={entry.createdAt} />
              </TableCell>
              <TableCell className="text-right">{renderActions?.(entry)}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </div>
  );
}

function EntryOutcome({ entry }: { entry: EntryJson }) {
  if (entry.lock?.expired) return <span className="text-amber-700">Lock expired</span>;
  if (entry.status === "FAILED") {
    return <span className="block truncate text-red-700" title={entry.error ?? undefined}>{entry.error ?? "Failed"}</span>;
  }
  const completedAt = (entry.result as { completedAt?: string } | null)?.completedAt;
  if (entry.status === "COMPLETED" && completedAt) {
    return (
      <span className="text-emerald-800">
        Done <RelativeTime iso={completedAt} />
      </span>
    );
  }
  return <span className="text-muted-foreground">—</span>;
}

function LoadingRows() {
  return (
    <div role="status" aria-label="Loading entries" className="space-y-2 rounded-lg border p-3">
      {Array.from({ length: 5 }, (_, i) => (
        <div key={i} className={cn("flex items-center gap-4", i > 2 && "opacity-60")}>
          <Skeleton className="h-5 flex-[4]" />
          <Skeleton className="h-5 flex-1" />
          <Skeleton className="h-2 flex-[2]" />
        </div>
      ))}
      <span className="sr-only">Loading entries…</span>
    </div>
  );
}
