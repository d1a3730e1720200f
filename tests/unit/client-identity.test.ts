import { describe, expect, it } from "vitest";
import { clientAddress } from "@/lib/server/client-identity";

// The rule every per-client limit keys on: the connecting peer, or with TRUST_PROXY_HOPS proxies of
// ours in front, the hop just left of them. Whatever the client wrote is never the answer.

const PEER = "x-async-workflow-peer";
const from = (peer: string, extra: Record<string, string> = {}) => new Headers({ [PEER]: peer, ...extra });

describe("clientAddress", () => {
  it.each([
    // Direct (no proxy of ours): the peer, whatever the headers say.
    [0, from("203.0.113.5"), "203.0.113.5"],
    [0, from("203.0.113.5", { "x-forwarded-for": "10.0.0.1" }), "203.0.113.5"],
    [0, from("203.0.113.5", { "x-real-ip": "10.0.0.1" }), "203.0.113.5"],
    [0, from("::ffff:127.0.0.2"), "127.0.0.2"],
    [0, from("2001:DB8::1"), "2001:db8::1"],
    // One proxy of ours: it appended the client's address last.
    [1, from("10.1.1.1", { "x-forwarded-for": "198.51.100.7" }), "198.51.100.7"],
    [1, from("10.1.1.1", { "x-forwarded-for": "1.2.3.4, 5.6.7.8, 198.51.100.7" }), "198.51.100.7"], // the client's own hops ignored
    [1, from("10.1.1.1", { "x-forwarded-for": "[2001:db8::9]:4711" }), "2001:db8::9"],
    [1, from("10.1.1.1", { "x-forwarded-for": "198.51.100.7:5000" }), "198.51.100.7"],
    // Two proxies of ours.
    [2, from("10.1.1.1", { "x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.2.2.2" }), "198.51.100.7"],
    // A proxy of ours that sends X-Real-IP instead.
    [1, from("10.1.1.1", { "x-real-ip": "198.51.100.7" }), "198.51.100.7"],
    // What our proxy wrote is not an address: the peer, not the text.
    [1, from("10.1.1.1", { "x-forwarded-for": "unknown" }), "10.1.1.1"],
    [1, from("10.1.1.1", { "x-forwarded-for": "<script>, ;DROP" }), "10.1.1.1"],
  ])("with %i trusted hops: %o → %s", (hops, headers, expected) => {
    expect(clientAddress(headers, hops)).toBe(expected);
  });
});
