import { CheckCircle2, CircleDashed, Loader2, XCircle } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import type { EntryStatus } from "@/lib/generated/prisma/enums";

const LOOK: Record<EntryStatus, { label: string; variant: "created" | "stage1" | "stage2" | "completed" | "failed"; icon: React.ReactNode }> = {
  CREATED: { label: "Created", variant: "created", icon: <CircleDashed aria-hidden /> },
  STAGE_1: { label: "Stage 1", variant: "stage1", icon: <Loader2 aria-hidden className="motion-safe:animate-spin" /> },
  STAGE_2: { label: "Stage 2", variant: "stage2", icon: <Loader2 aria-hidden className="motion-safe:animate-spin" /> },
  COMPLETED: { label: "Completed", variant: "completed", icon: <CheckCircle2 aria-hidden /> },
  FAILED: { label: "Failed", variant: "failed", icon: <XCircle aria-hidden /> },
};

/** The status as words and an icon, with colour only as a second cue. */
export function EntryStatusBadge({ status }: { status: EntryStatus }) {
  const look = LOOK[status];
  return (
    <Badge variant={look.variant} data-status={status}>
      {look.icon}
      {look.label}
    </Badge>
  );
}
