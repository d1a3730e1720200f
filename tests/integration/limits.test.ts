import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports";
import { api, startServer, type TestServer } from "../helpers/server";

// Limits answered before any database work: this server's DATABASE_URL points at a port where no
// database listens, so anything that reached the database would answer 500.

let server: TestServer;

beforeAll(async () => {
  const deadPort = await freePort();
  server = await startServer(`postgresql://nobody:nothing@127.0.0.1:${deadPort}/none`, {
    WORKER_ENABLED: "false",
    RATE_LIMIT_CREATES_PER_MINUTE: "3",
  });
});
afterAll(() => server?.stop());

describe("limits, before the database", () => {
  it("answers 413 for a body over 16 KiB, 415 for non-JSON, 400 for a bad id", async () => {
    const big = await api(server.url, "/api/entries/00000000-0000-4000-8000-000000000000", {
      method: "PATCH",
      body: "x".repeat(17 * 1024),
      headers: { "content-type": "application/json", authorization: "Bearer whatever-whatever-whatever" },
    });
    expect([403, 413]).toContain(big.status); // no token configured → refused even earlier
    const badId = await api(server.url, "/api/entries/1%20OR%201=1");
    expect(badId.status).toBe(400);
    expect(badId.body.error.code).toBe("validation_error");
  });

  it("rate-limits creates per client with 429 and Retry-After", async () => {
    const headers = { "x-forwarded-for": "203.0.113.7" };
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await api(server.url, "/api/entries", { method: "POST", json: { title: `t${i}` }, headers }));
    }
    // The first three pass the limiter (and then fail on the absent database); the rest never get there.
    expect(answers.slice(0, 3).map((a) => a.status)).toEqual([500, 500, 500]);
    expect(answers.slice(3).map((a) => a.status)).toEqual([429, 429]);
    expect(answers[3]!.body.error.code).toBe("rate_limited");
    expect(Number(answers[3]!.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another client has its own budget; a body too large is refused before the database too.
    const other = await api(server.url, "/api/entries", {
      method: "POST",
      body: JSON.stringify({ title: "x".repeat(20_000) }),
      headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.9" },
    });
    expect(other.status).toBe(413);
    const wrongType = await api(server.url, "/api/entries", {
      method: "POST",
      body: "title=x",
      headers: { "content-type": "text/plain", "x-forwarded-for": "198.51.100.10" },
    });
    expect(wrongType.status).toBe(415);
  });

  it("never shows the database error to the client", async () => {
    const { status, body } = await api(server.url, "/api/entries", { method: "POST", json: { title: "t" }, headers: { "x-forwarded-for": "192.0.2.44" } });
    expect(status).toBe(500);
    expect(body).toEqual({ error: { code: "internal_error", message: "Something went wrong on our side." } });
  });
});

describe("security headers", () => {
  it("sends a nonce-based CSP, nosniff, a referrer policy and frame denial on pages", async () => {
    const res = await fetch(`${server.url}/entries`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    const html = await res.text();
    expect(html).toContain(`nonce="${nonce}"`);
    // A new nonce on every request.
    const again = await fetch(`${server.url}/entries`);
    expect(again.headers.get("content-security-policy")).not.toBe(csp);
  });

  it("sends a deny-all CSP and nosniff on API answers", async () => {
    const res = await fetch(`${server.url}/api/entries/not-an-id`);
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-type")).toContain("application/json");
  });
});
