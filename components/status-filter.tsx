"use client";

import Link from "next/link";
import { STATUS_LOOK } from "@/components/status-look";
import type { StatusCounts } from "@/lib/client/entry-queries";
import { STATUSES } from "@/lib/stages";
import { cn } from "@/lib/utils";

type Status = (typeof STATUSES)[number];


/**
 * "All / Created / … / Failed" with their counts. They filter the list and live in the URL, so they
 * are links (the current one marked aria-current), not tabs: there are no tab panels to show.
 */
export function StatusFilter({
  value,
  counts,
  hrefFor,
}: {
  value: Status | undefined;
  counts: StatusCounts | undefined;
  hrefFor: (status: Status | undefined) => string;
}) {
  const total = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : undefined;
  const options: { status: Status | undefined; label: string; count: number | undefined }[] = [
    { status: undefined, label: "All", count: total },
    ...STATUSES.map((s) => ({ status: s, label: STATUS_LOOK[s].label, count: counts?.[s] })),
  ];
  return (
    <nav aria-label="Filter by status" className="min-w-0 max-w-full">
      <ul className="inline-flex w-fit max-w-full items-center gap-1 overflow-x-auto rounded-lg bg-muted p-1 text-muted-foreground">
        {options.map(({ status, label, count }) => {
          const current = status === value;
          return (
            <li key={label}>
              <Link
                href={hrefFor(status)}
                replace
                scroll={false}
                aria-current={current ? "page" : undefined}
                className={cn(
                  "inline-flex items-center gap-1.5 whitespace-nowrap rounded-md px-2.5 py-1 text-sm font-medium transition-colors outline-none hover:text-foreground focus-visible:ring-[3px] focus-visible:ring-ring/50",
                  current && "bg-background text-foreground shadow-sm",
                )}
              >
                {label}
                {count !== undefined && <span className="rounded bg-background/60 px-1 text-xs tabular-nums">{count}</span>}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
