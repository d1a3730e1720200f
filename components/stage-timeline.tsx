"use client";

import { RelativeTime } from "@/components/relative-time";
import { useStageExecutions, type StageExecutionJson } from "@/lib/client/entry-queries";
import { cn } from "@/lib/utils";

/** An entry's stage executions, oldest first: who ran each stage, when, how long, and how it ended. */
export function StageTimeline({ entryId }: { entryId: string | null }) {
  const executions = useStageExecutions(entryId);
  return (
    <section aria-labelledby="timeline-heading" className="space-y-2">
      <h3 id="timeline-heading" className="text-sm font-semibold">
        Stage timeline
      </h3>
      {executions.data?.length === 0 && <p className="text-sm text-muted-foreground">No stage has run yet.</p>}
      <ol className="space-y-2" aria-label="Stage executions">
        {executions.data?.map((execution) => <ExecutionRow key={execution.id} execution={execution} />)}
      </ol>
    </section>
  );
}

function ExecutionRow({ execution }: { execution: StageExecutionJson }) {
  const ms = new Date(execution.finishedAt).getTime() - new Date(execution.startedAt).getTime();
  const ok = execution.outcome === "SUCCEEDED";
  return (
    <li className="rounded-md border p-3 text-sm" data-outcome={execution.outcome}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <span className="font-medium">
          {execution.fromStatus} → {execution.toStatus}
        </span>
        <span className={cn(ok ? "text-emerald-700" : "text-red-700")}>
          {ok ? "Succeeded" : "Failed"} · attempt {execution.attempt} · {ms} ms
        </span>
      </div>
      <p className="mt-1 break-all font-mono text-xs text-muted-foreground">{execution.workerId}</p>
      <p className="text-xs text-muted-foreground">
        <RelativeTime iso={execution.startedAt} />
        {execution.error && <span className="text-red-700"> · {execution.error}</span>}
        {execution.retryAt && (
          <>
            {" "}· retry <RelativeTime iso={execution.retryAt} />
          </>
        )}
      </p>
    </li>
  );
}
