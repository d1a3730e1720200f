"use client";

import { EntryActions } from "@/components/entry-actions";
import { EntryStatusBadge } from "@/components/entry-status-badge";
import { LockPanel } from "@/components/lock-panel";
import { RelativeTime } from "@/components/relative-time";
import { StageTimeline } from "@/components/stage-timeline";
import { Progress } from "@/components/ui/progress";
import { Sheet, SheetContent, SheetDescription, SheetHeader, SheetTitle } from "@/components/ui/sheet";
import { useEntry } from "@/lib/client/entry-queries";

/** One entry in full: status, progress, lock health, and the timeline of its stage executions. */
export function EntryDetailSheet({
  entryId,
  onClose,
  returnFocusTo,
}: {
  entryId: string | null;
  onClose: () => void;
  /** Opened from something other than a SheetTrigger: where focus goes back to on close. */
  returnFocusTo?: React.RefObject<HTMLElement | null>;
}) {
  const entry = useEntry(entryId);
  const e = entry.data;
  return (
    <Sheet open={entryId !== null} onOpenChange={(open) => !open && onClose()}>
      <SheetContent
        aria-describedby={undefined}
        onCloseAutoFocus={(event) => {
          const opener = returnFocusTo?.current;
          if (opener?.isConnected) {
            event.preventDefault();
            opener.focus();
          }
        }}
      >
        <SheetHeader>
          <SheetTitle>{e?.title ?? "Entry"}</SheetTitle>
          <SheetDescription className="font-mono text-xs">{entryId}</SheetDescription>
        </SheetHeader>
        {entry.isError && <p role="alert" className="text-sm text-red-700">{entry.error.message}</p>}
        {e && (
          <>
            <div className="flex flex-wrap items-center gap-3">
              <EntryStatusBadge status={e.status} />
              <div className="flex min-w-40 flex-1 items-center gap-2">
                <Progress value={e.progress} aria-label="Progress" />
                <span className="text-xs tabular-nums text-muted-foreground">{e.progress}%</span>
              </div>
              <EntryActions entry={e} />
            </div>
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
              <dt className="text-muted-foreground">Created</dt>
              <dd><RelativeTime iso={e.createdAt} /></dd>
              <dt className="text-muted-foreground">Attempts</dt>
              <dd>{e.attempts}</dd>
              {e.error && (
                <>
                  <dt className="text-muted-foreground">Error</dt>
                  <dd className="break-words text-red-700">{e.error}</dd>
                </>
              )}
              {e.cancelRequestedAt && e.status !== "FAILED" && (
                <>
                  <dt className="text-muted-foreground">Cancel</dt>
                  <dd>requested; stops at the next stage boundary</dd>
                </>
              )}
            </dl>
            <LockPanel entry={e} />
          </>
        )}
        <StageTimeline entryId={entryId} />
      </SheetContent>
    </Sheet>
  );
}
