import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { CreateEntryDialog } from "@/components/create-entry-dialog";

function renderDialog() {
  const fetchSpy = vi.spyOn(globalThis, "fetch");
  render(
    <QueryClientProvider client={new QueryClient()}>
      <CreateEntryDialog open onOpenChange={() => {}} />
    </QueryClientProvider>,
  );
  return { fetchSpy, input: screen.getByLabelText("Title"), submit: screen.getByRole("button", { name: "Create" }) };
}

describe("CreateEntryDialog validation (the server's zod rules, in the browser)", () => {
  it.each([
    ["an empty title", "", "Title is required"],
    ["a blank title", "    ", "Title is required"],
    ["a 201-character title", "x".repeat(201), "Title must be at most 200 characters"],
  ])("refuses %s with its message next to the field and sends nothing", async (_name, value, message) => {
    const { fetchSpy, input, submit } = renderDialog();
    if (value) await userEvent.type(input, value);
    await userEvent.click(submit);
    expect(screen.getByRole("alert")).toHaveTextContent(message);
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAccessibleDescription(message);
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
  });

  it("clears the error as soon as the title becomes valid", async () => {
    const { input, submit, fetchSpy } = renderDialog();
    await userEvent.click(submit);
    expect(screen.getByRole("alert")).toBeInTheDocument();
    await userEvent.type(input, "Fine now");
    expect(screen.queryByRole("alert")).toBeNull();
    fetchSpy.mockRestore();
  });

  it("puts focus in the title field when it opens", () => {
    const { input, fetchSpy } = renderDialog();
    expect(input).toHaveFocus();
    fetchSpy.mockRestore();
  });
});

describe("CreateEntryDialog and Idempotency-Key", () => {
  it("sends one key per submission: the same one again for the same title, a new one for a new title", async () => {
    const { fetchSpy, input, submit } = renderDialog();
    // The connection drops before any answer: the request may or may not have created the entry.
    fetchSpy.mockRejectedValue(new TypeError("fetch failed"));
    const keys = () => fetchSpy.mock.calls.map(([, init]) => new Headers(init?.headers).get("idempotency-key"));

    await userEvent.type(input, "Quarterly report");
    await userEvent.click(submit);
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("Could not reach the server"), { timeout: 10_000 });
    expect(fetchSpy).toHaveBeenCalledTimes(3); // the first try and two retries, on their own
    await userEvent.click(submit); // the user tries again
    await waitFor(() => expect(fetchSpy).toHaveBeenCalledTimes(6), { timeout: 10_000 });
    expect(new Set(keys()).size).toBe(1);
    expect(keys()[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    await userEvent.type(input, ", revised");
    await userEvent.click(submit);
    await waitFor(() => expect(fetchSpy).toHaveBeenCalledTimes(9), { timeout: 10_000 });
    expect(new Set(keys()).size).toBe(2);
    fetchSpy.mockRestore();
  }, 30_000);
});
