import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { EntriesTable } from "@/components/entries-table";
import { EntryActions } from "@/components/entry-actions";
import type { EntryJson } from "@/lib/client/entry-queries";


const entry = (over: Partial<EntryJson>): EntryJson => ({
  id: crypto.randomUUID(),
  title: "An entry",
  status: "CREATED",
  progress: 0,
  lockedBy: null,
  lockedAt: null,
  result: null,
  error: null,
  attempts: 0,
  version: 0,
  cancelRequestedAt: null,
  lock: null,
  runAt: new Date().toISOString(),
  createdAt: new Date(Date.now() - 60_000).toISOString(),
  updatedAt: new Date().toISOString(),
  ...over,
});

describe("EntriesTable", () => {
  it("shows a loading state before any data", () => {
    render(<EntriesTable entries={undefined} isLoading error={null} />);
    expect(screen.getByRole("status", { name: "Loading entries" })).toBeInTheDocument();
  });

  it("shows the error when the first load fails", () => {
    render(<EntriesTable entries={undefined} isLoading={false} error={new Error("Could not reach the server")} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Could not load entries");
    expect(screen.getByRole("alert")).toHaveTextContent("Could not reach the server");
  });

  it("invites to create the first entry when there are none", async () => {
    const onCreate = vi.fn();
    render(<EntriesTable entries={[]} isLoading={false} error={null} onCreate={onCreate} />);
    expect(screen.getByText("No entries yet")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Create your first entry" }));
    expect(onCreate).toHaveBeenCalledOnce();
  });

  it.each([
    ["CREATED", 0, "Created"],
    ["STAGE_1", 33, "Stage 1"],
    ["STAGE_2", 66, "Stage 2"],
    ["COMPLETED", 100, "Completed"],
    ["FAILED", 33, "Failed"],
  ] as const)("renders %s as words, with its progress", (status, progress, label) => {
    render(<EntriesTable entries={[entry({ status, progress, title: `t-${status}` })]} isLoading={false} error={null} />);
    const row = screen.getByRole("row", { name: new RegExp(`t-${status}`) });
    expect(row).toHaveAttribute("data-status", status);
    expect(row).toHaveTextContent(label);
    expect(row).toHaveTextContent(`${progress}%`);
    expect(screen.getByRole("progressbar", { name: `Progress of t-${status}` })).toHaveAttribute("aria-valuenow", String(progress));
  });

  it("shows the result of a completed entry and the error of a failed one", () => {
    render(
      <EntriesTable
        entries={[
          entry({ title: "ok", status: "COMPLETED", progress: 100, result: { completedAt: new Date().toISOString() } }),
          entry({ title: "bad", status: "FAILED", progress: 33, error: "Disk on fire" }),
        ]}
        isLoading={false}
        error={null}
      />,
    );
    expect(screen.getByRole("row", { name: /ok/ })).toHaveTextContent("Done");
    expect(screen.getByRole("row", { name: /bad/ })).toHaveTextContent("Disk on fire");
  });

  it("offers Retry for a failed entry and Cancel for a running one, asking first", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    // Row actions come in as a prop, as the page passes them; they mutate, so they need React Query.
    render(
      <QueryClientProvider client={new QueryClient()}>
        <EntriesTable
          entries={[entry({ title: "broken", status: "FAILED" }), entry({ title: "running", status: "STAGE_1", progress: 33 })]}
          isLoading={false}
          error={null}
          renderActions={(e) => <EntryActions entry={e} />}
        />
      </QueryClientProvider>,
    );
    expect(screen.queryByRole("button", { name: "Cancel broken" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Retry running" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Retry broken" }));
    expect(screen.getByRole("alertdialog", { name: "Retry this entry?" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Keep as is" }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel running" }));
    expect(screen.getByRole("alertdialog", { name: "Cancel this entry?" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Keep as is" }));
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
  });

  it("says so when filters hide every entry", () => {
    render(<EntriesTable entries={[]} isLoading={false} error={null} emptyMessage="No entries match this view." />);
    expect(screen.getByText("No entries match this view.")).toBeInTheDocument();
    expect(screen.queryByText("No entries yet")).toBeNull();
  });

  it("renders a hostile title as text, not markup", () => {
    const { container } = render(
      <EntriesTable entries={[entry({ title: "<img src=x onerror=alert(1)>" })]} isLoading={false} error={null} />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getAllByText("<img src=x onerror=alert(1)>").length).toBeGreaterThan(0);
  });
});
