import { describe, expect, it } from "vitest";
import { visibleIn } from "@/lib/server/entries/changes";

// PostgreSQL's visibility rule for a pg_snapshot's text, `xmin:xmax:xip,…`, as the live feed applies it.
describe("visibleIn", () => {
  it.each([
    ["100:110:", "99", true], // finished before the oldest running one
    ["100:110:", "105", true], // finished, below xmax, not running
    ["100:110:103,107", "103", false], // still running at the snapshot
    ["100:110:103,107", "104", true],
    ["100:110:", "110", false], // not started yet
    ["100:110:", "5000000000", false], // xid8 beyond 2^32
    ["4294967400:4294967500:4294967450", "4294967450", false],
    ["4294967400:4294967500:4294967450", "4294967449", true],
  ])("in %s, txid %s is visible: %s", (snapshot, txid, visible) => {
    expect(visibleIn(snapshot, txid)).toBe(visible);
  });
});
