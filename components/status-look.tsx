import { CheckCircle2, CircleDashed, Loader2, XCircle } from "lucide-react";
import type { EntryStatus } from "@/lib/generated/prisma/enums";

// How each workflow status looks, in one place: the badge, the progress bar and the filters all
// read it. Words and an icon say the status; colour is only a second cue.
export const STATUS_LOOK: Record<EntryStatus, { label: string; badge: string; bar: string; icon: React.ReactNode }> = {
  CREATED: {
    label: "Created",
    badge: "border-slate-300 bg-slate-100 text-slate-700",
    bar: "bg-slate-400",
    icon: <CircleDashed aria-hidden />,
  },
  STAGE_1: {
    label: "Stage 1",
    badge: "border-sky-300 bg-sky-50 text-sky-800",
    bar: "bg-sky-500",
    icon: <Loader2 aria-hidden className="motion-safe:animate-spin" />,
  },
  STAGE_2: {
    label: "Stage 2",
    badge: "border-violet-300 bg-violet-50 text-violet-800",
    bar: "bg-violet-500",
    icon: <Loader2 aria-hidden className="motion-safe:animate-spin" />,
  },
  COMPLETED: {
    label: "Completed",
    badge: "border-emerald-300 bg-emerald-50 text-emerald-800",
    bar: "bg-emerald-500",
    icon: <CheckCircle2 aria-hidden />,
  },
  FAILED: {
    label: "Failed",
    badge: "border-red-300 bg-red-50 text-red-800",
    bar: "bg-red-500",
    icon: <XCircle aria-hidden />,
  },
};
