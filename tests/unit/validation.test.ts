import { describe, expect, it } from "vitest";
import { createEntrySchema, listEntriesQuerySchema, updateEntrySchema } from "@/lib/validation";

describe("createEntrySchema", () => {
  it("trims and accepts 1..200 characters", () => {
    expect(createEntrySchema.parse({ title: "  a  " })).toEqual({ title: "a" });
    expect(createEntrySchema.parse({ title: "é".repeat(200) }).title).toHaveLength(200);
  });
  it.each([
    [{}],
    [{ title: "" }],
    [{ title: "   " }],
    [{ title: "x".repeat(201) }],
    [{ title: 1 }],
    [{ title: "tab\there" }],
    [{ title: "line\nbreak" }],
    [{ title: "ok", extra: true }],
    [null],
    ["title"],
  ])("rejects %j", (input) => {
    expect(createEntrySchema.safeParse(input).success).toBe(false);
  });
  it("explains the problem in words a person understands", () => {
    const result = createEntrySchema.safeParse({ title: " " });
    expect(result.error?.issues[0]?.message).toBe("Title is required");
  });
});

describe("listEntriesQuerySchema", () => {
  it("defaults and parses plain integers", () => {
    expect(listEntriesQuerySchema.parse({})).toEqual({ limit: 50, offset: 0 });
    expect(listEntriesQuerySchema.parse({ limit: "100", offset: "7" })).toEqual({ limit: 100, offset: 7 });
  });
  it.each([{ limit: "0" }, { limit: "101" }, { limit: "2.0" }, { limit: " 5" }, { offset: "-1" }, { offset: "0x1" }])(
    "rejects %j",
    (q) => expect(listEntriesQuerySchema.safeParse(q).success).toBe(false),
  );
});

describe("updateEntrySchema", () => {
  it("accepts status and/or progress", () => {
    expect(updateEntrySchema.parse({ status: "STAGE_1" })).toEqual({ status: "STAGE_1" });
    expect(updateEntrySchema.parse({ progress: 0 })).toEqual({ progress: 0 });
  });
  it.each([{}, { status: "stage_1" }, { progress: 100.5 }, { progress: null }, { status: "FAILED", lockedBy: "me" }])(
    "rejects %j",
    (input) => expect(updateEntrySchema.safeParse(input).success).toBe(false),
  );
});
