import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports";
import { api, requestFrom, startServer, type TestServer } from "../helpers/server";

// Limits answered before any database work: this server's DATABASE_URL points at a port where no
// database listens, so anything that reached the database would answer 500.

let server: TestServer;
const TOKEN = "the-internal-token-of-this-test";

beforeAll(async () => {
  const deadPort = await freePort();
  server = await startServer(`postgresql://nobody:nothing@127.0.0.1:${deadPort}/none`, {
    WORKER_ENABLED: "false",
    RATE_LIMIT_CREATES_PER_MINUTE: "3",
    INTERNAL_API_TOKEN: TOKEN,
  });
});
afterAll(() => server?.stop());

describe("limits, before the database", () => {
  it("answers 413 for a body over 16 KiB, 415 for non-JSON, 400 for a bad id", async () => {
    const patch = (body: string, contentType = "application/json") =>
      api(server.url, "/api/entries/00000000-0000-4000-8000-000000000000", {
        method: "PATCH",
        body,
        headers: { "content-type": contentType, authorization: `Bearer ${TOKEN}` },
      });
    const big = await patch(`{"status":"${"x".repeat(17 * 1024)}"}`);
    expect([big.status, big.body.error.code]).toEqual([413, "payload_too_large"]);
    const notJson = await patch("status=FAILED", "application/x-www-form-urlencoded");
    expect([notJson.status, notJson.body.error.code]).toEqual([415, "unsupported_media_type"]);
    const create = (body: string, contentType: string) =>
      api(server.url, "/api/entries", { method: "POST", body, headers: { "content-type": contentType } });
    expect((await create(JSON.stringify({ title: "x".repeat(20_000) }), "application/json")).status).toBe(413);
    expect((await create("title=x", "text/plain")).status).toBe(415);
    const badId = await api(server.url, "/api/entries/1%20OR%201=1");
    expect(badId.status).toBe(400);
    expect(badId.body.error.code).toBe("validation_error");
  });

  it("answers 429 with Retry-After past the create limit, before reading the body or touching the database", async () => {
    // The first three pass the limiter, and then fail on the absent database (500: the 201s are
    // in client-identity.test.ts, against a real one); the rest never get that far.
    // A client of its own (127.0.0.4), so no other test's creates count against it.
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await requestFrom(`${server.url}/api/entries`, "127.0.0.4", { method: "POST", body: "{not even json", headers: { "content-type": "application/json" } }));
    }
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 429, 429]);
    expect(answers[3]!.body.error.code).toBe("rate_limited");
    expect(Number(answers[3]!.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("answers live without the database, and not ready (503) saying which check failed", async () => {
    expect(await api(server.url, "/api/health/live")).toMatchObject({ status: 200, body: { status: "ok" } });
    const ready = await api(server.url, "/api/health/ready");
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, checks: { database: false }, detail: { error: "database unreachable" } });
  });

  it("never shows the database error to the client", async () => {
    const { status, body } = await api(server.url, "/api/entries/00000000-0000-4000-8000-000000000000");
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
