"use client";

import { Ban, RotateCcw } from "lucide-react";
import { toast } from "sonner";
import {
  AlertDialog,
  AlertDialogAction,
  AlertDialogCancel,
  AlertDialogContent,
  AlertDialogDescription,
  AlertDialogFooter,
  AlertDialogHeader,
  AlertDialogTitle,
  AlertDialogTrigger,
} from "@/components/ui/alert-dialog";
import { Button } from "@/components/ui/button";
import { useEntryAction, type EntryJson } from "@/lib/client/entry-queries";
import { isTerminal } from "@/lib/stages";

const COPY = {
  retry: {
    label: "Retry",
    icon: <RotateCcw aria-hidden />,
    title: "Retry this entry?",
    body: "It goes back to the queue and resumes after the last stage it completed, with its attempts reset.",
    done: "Entry queued again",
  },
  cancel: {
    label: "Cancel",
    icon: <Ban aria-hidden />,
    title: "Cancel this entry?",
    body: "It stops at its next stage boundary and ends as Failed (cancelled). This cannot be undone, but it can be retried.",
    done: "Cancellation requested",
  },
} as const;

/** Retry for a failed entry, Cancel for a running one; each asks for confirmation first. */
export function EntryActions({ entry }: { entry: EntryJson }) {
  if (entry.status === "FAILED") return <ConfirmedAction entry={entry} action="retry" />;
  if (!isTerminal(entry.status) && !entry.cancelRequestedAt) return <ConfirmedAction entry={entry} action="cancel" />;
  return null;
}

function ConfirmedAction({ entry, action }: { entry: EntryJson; action: "retry" | "cancel" }) {
  const mutation = useEntryAction(action);
  const copy = COPY[action];
  return (
    <AlertDialog>
      <AlertDialogTrigger asChild>
        <Button
          variant="outline"
          size="sm"
          disabled={mutation.isPending}
          aria-label={`${copy.label} ${entry.title}`}
          onClick={(e) => e.stopPropagation()}
        >
          {copy.icon}
          <span className="hidden sm:inline">{copy.label}</span>
        </Button>
      </AlertDialogTrigger>
      <AlertDialogContent onClick={(e) => e.stopPropagation()}>
        <AlertDialogHeader>
          <AlertDialogTitle>{copy.title}</AlertDialogTitle>
          <AlertDialogDescription>
            <span className="font-medium text-foreground">{entry.title}</span>. {copy.body}
          </AlertDialogDescription>
        </AlertDialogHeader>
        <AlertDialogFooter>
          <AlertDialogCancel>Keep as is</AlertDialogCancel>
          <AlertDialogAction
            onClick={() =>
              mutation.mutate(entry.id, {
                onSuccess: () => toast.success(copy.done, { description: entry.title }),
                onError: (error) => toast.error(`${copy.label} failed`, { description: error.message }),
              })
            }
          >
            {copy.label} entry
          </AlertDialogAction>
        </AlertDialogFooter>
      </AlertDialogContent>
    </AlertDialog>
  );
}
