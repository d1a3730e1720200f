"use client";

import { AlertTriangle, Lock, Unlock } from "lucide-react";
import { toast } from "sonner";
import { EntryActions } from "@/components/entry-actions";
import { EntryStatusBadge } from "@/components/entry-status-badge";
import { RelativeTime } from "@/components/relative-time";
import { Button } from "@/components/ui/button";
import { Progress } from "@/components/ui/progress";
import { Sheet, SheetContent, SheetDescription, SheetHeader, SheetTitle } from "@/components/ui/sheet";
import { useEntry, useEntryAction, useEntryEvents, type EntryJson, type StageExecutionJson } from "@/lib/api";

/** One entry in full: status, lock health, and the timeline of every stage execution. */
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
  const events = useEntryEvents(entryId);
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
        <section aria-labelledby="timeline-heading" className="space-y-2">
          <h3 id="timeline-heading" className="text-sm font-semibold">Stage timeline</h3>
          {events.data?.length === 0 && <p className="text-sm text-muted-foreground">No stage has run yet.</p>}
          <ol className="space-y-2" aria-label="Stage executions">
            {events.data?.map((event) => <TimelineRow key={event.id} event={event} />)}
          </ol>
        </section>
      </SheetContent>
    </Sheet>
  );
}

function LockPanel({ entry }: { entry: EntryJson }) {
  const release = useEntryAction("release");
  const lock = entry.lock;
  if (!lock) {
    return (
      <p className="flex items-center gap-2 text-sm text-muted-foreground">
        <Unlock className="size-4" aria-hidden /> Not locked
      </p>
    );
  }
  return (
    <div className={`space-y-1 rounded-md border p-3 text-sm ${lock.expired ? "border-amber-300 bg-amber-50" : ""}`} data-testid="lock-panel">
      <p className="flex items-center gap-2 font-medium">
        {lock.expired ? <AlertTriangle className="size-4 text-amber-700" aria-hidden /> : <Lock className="size-4" aria-hidden />}
        {lock.holderAlive === false
          ? "Its holder is gone: any worker may take this lock"
          : lock.expired
            ? "Lock expired: its holder stopped refreshing it"
            : "Locked by a worker"}
      </p>
      <p className="break-all font-mono text-xs">{lock.holder}</p>
      <p className="text-muted-foreground">
        Held since <RelativeTime iso={lock.since} />, {lock.expired ? "expired" : "expires"} <RelativeTime iso={lock.expiresAt} />
      </p>
      <Button
        variant="outline"
        size="sm"
        disabled={release.isPending}
        onClick={() =>
          release.mutate(entry.id, {
            onSuccess: () => toast.success("Lock released"),
            onError: (error) => toast.error("Not released", { description: error.message }),
          })
        }
      >
        <Unlock aria-hidden /> Release lock
      </Button>
    </div>
  );
}

function TimelineRow({ event }: { event: StageExecutionJson }) {
  const ms = new Date(event.finishedAt).getTime() - new Date(event.startedAt).getTime();
  const ok = event.outcome === "SUCCEEDED";
  return (
    <li className="rounded-md border p-3 text-sm" data-outcome={event.outcome}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <span className="font-medium">
          {event.fromStatus} → {event.toStatus}
        </span>
        <span className={ok ? "text-emerald-700" : "text-red-700"}>
          {ok ? "Succeeded" : "Failed"} · attempt {event.attempt} · {ms} ms
        </span>
      </div>
      <p className="mt-1 break-all font-mono text-xs text-muted-foreground">{event.workerId}</p>
      <p className="text-xs text-muted-foreground">
        <RelativeTime iso={event.startedAt} />
        {event.error && <span className="text-red-700"> · {event.error}</span>}
        {event.retryAt && (
          <>
            {" "}· retry <RelativeTime iso={event.retryAt} />
          </>
        )}
      </p>
    </li>
  );
}
