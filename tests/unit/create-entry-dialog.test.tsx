import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
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
