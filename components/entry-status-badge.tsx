import { STATUS_LOOK } from "@/components/status-look";
import { Badge } from "@/components/ui/badge";
import type { EntryStatus } from "@/lib/generated/prisma/enums";

/** The status as words and an icon, with colour only as a second cue. */
export function EntryStatusBadge({ status }: { status: EntryStatus }) {
  const look = STATUS_LOOK[status];
  return (
    <Badge variant="outline" className={look.badge} data-status={status}>
      {look.icon}
      {look.label}
    </Badge>
  );
}
