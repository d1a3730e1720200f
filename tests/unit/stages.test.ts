import { describe, expect, it } from "vitest";
import { canTransition, isTerminal, nextStatus, PROGRESS, STATUSES } from "@/lib/stages";

describe("the workflow state machine", () => {
  it("walks CREATED → STAGE_1 → STAGE_2 → COMPLETED with progress 0/33/66/100", () => {
    const path: string[] = [];
    for (let s: (typeof STATUSES)[number] | null = "CREATED"; s; s = nextStatus(s)) path.push(`${s}:${PROGRESS[s]}`);
    expect(path).toEqual(["CREATED:0", "STAGE_1:33", "STAGE_2:66", "COMPLETED:100"]);
  });
  it("has two terminal statuses", () => {
    expect(STATUSES.filter(isTerminal)).toEqual(["COMPLETED", "FAILED"]);
    expect(nextStatus("FAILED")).toBeNull();
  });
  it("allows one step forward or FAILED, never backwards or out of a terminal status", () => {
    expect(canTransition("CREATED", "STAGE_1")).toBe(true);
    expect(canTransition("STAGE_1", "FAILED")).toBe(true);
    expect(canTransition("CREATED", "STAGE_2")).toBe(false);
    expect(canTransition("STAGE_2", "STAGE_1")).toBe(false);
    expect(canTransition("COMPLETED", "FAILED")).toBe(false);
    expect(canTransition("FAILED", "CREATED")).toBe(false);
  });
});
