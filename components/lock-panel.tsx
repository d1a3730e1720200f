"use client";

import { AlertTriangle, Lock, Unlock } from "lucide-react";
import { toast } from "sonner";
import { RelativeTime } from "@/components/relative-time";
import { Button } from "@/components/ui/button";
import { useEntryAction, type EntryJson } from "@/lib/client/entry-queries";
import { cn } from "@/lib/utils";

/** An entry's lock: who holds it, since when, whether the holder lives; and a way to free it. */
export function LockPanel({ entry }: { entry: EntryJson }) {
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
    <div className={cn("space-y-1 rounded-md border p-3 text-sm", lock.expired && "border-amber-300 bg-amber-50")} data-testid="lock-panel">
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
