import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "@/lib/server/config";

describe("configuration", () => {
  it("has the spec's defaults", () => {
    const c = parseConfig({});
    expect(c.STAGE_DELAY_MS).toBe(2000);
    expect(c.LOCK_TTL_MS).toBe(120_000);
    expect(c.DATABASE_URL).toBeUndefined();
  });
  it("gives every process a distinct worker id naming host and pid", () => {
    const a = parseConfig({}).workerId;
    const b = parseConfig({}).workerId;
    expect(a).not.toBe(b);
    expect(a).toContain(`:${process.pid}:`);
  });
  it.each([
    { STAGE_DELAY_MS: "abc" },
    { STAGE_DELAY_MS: "-1" },
    { LOCK_TTL_MS: "1.5" },
    { LOCK_TTL_MS: "0" },
    { DATABASE_URL: "mysql://x" },
  ])("stops on %j with a message naming the variable", (env) => {
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(Object.keys(env)[0]);
  });
});
