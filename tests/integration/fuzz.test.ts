import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { startServer, type TestServer } from "../helpers/server";

// A few thousand random and hostile requests at a real server. Afterwards: no 5xx was answered,
// every error was in the one JSON shape, and the database holds exactly the entries that valid
// creates made, unchanged by everything else.

const TOKEN = "fuzz-internal-token-0123456789"; // configured, but never sent by the fuzzer
const db = await createTestDatabase();
let server: TestServer;

beforeAll(async () => {
  // A rate limit too high to reach, and one trusted proxy hop: every create runs the client-identity
  // rule over whatever X-Forwarded-For / X-Real-IP the fuzzer sends.
  server = await startServer(db.url, {
    WORKER_ENABLED: "false",
    INTERNAL_API_TOKEN: TOKEN,
    RATE_LIMIT_CREATES_PER_MINUTE: "1000000",
    TRUST_PROXY_HOPS: "1",
  });
});
afterAll(() => server?.stop());

const hostileStrings = fc.constantFrom(
  "'; DROP TABLE \"Entry\"; --",
  "1 OR 1=1",
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "{{7*7}}",
  "${process.exit()}",
  "../../etc/passwd",
  "%00",
  "\u0000\u0001\u0002",
  "\uD800",
  "😀".repeat(60),
  "ｔｉｔｌｅ",
  "null",
  "__proto__",
  "constructor",
  "a".repeat(201),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 30 }), hostileStrings);
const jsonValue = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }));

const body = fc.oneof(
  fc.record({ title: text }).map((o) => JSON.stringify(o)),
  fc.dictionary(fc.oneof(text, fc.constantFrom("title", "status", "progress", "__proto__")), jsonValue, { maxKeys: 4 }).map((o) =>
    JSON.stringify(o),
  ),
  fc.record({ status: fc.oneof(text, fc.constantFrom("CREATED", "STAGE_1", "COMPLETED", "FAILED")), progress: jsonValue }).map((o) =>
    JSON.stringify(o),
  ),
  fc.json({ maxDepth: 3 }),
  text,
  fc.constantFrom("", "{", "[", "{\"title\":", "{\"title\": \"a\"}}", "\u0000", "{\"title\":\"a\",\"title\":\"b\"}"),
  fc.integer({ min: 15_000, max: 40_000 }).map((n) => JSON.stringify({ title: "x".repeat(n) })),
  fc.constant(undefined),
);

// encodeURIComponent refuses lone surrogates; send their (invalid) UTF-8 bytes instead.
const enc = (t: string) => {
  try {
    return encodeURIComponent(t);
  } catch {
    return "%ED%A0%80";
  }
};

const path = fc.oneof(
  fc.constant("/api/entries"),
  fc.constant("/api/entries?limit=5"),
  fc.tuple(fc.constantFrom("limit", "offset", "cursor", "status", "q"), text).map(([k, v]) => `/api/entries?${k}=${enc(v)}`),
  fc.uuid().map((id) => `/api/entries/${id}`),
  fc.uuid().map((id) => `/api/entries/${id}/events`),
  text.map((t) => `/api/entries/${enc(t)}`),
  text.map((t) => `/api/${enc(t)}`),
  fc.constantFrom("/api/entries/%27%20OR%201%3D1", "/api/entries/..%2F..%2Fetc", "/api/entries//", "/api/entries/%F0%9F%98%80"),
);

// A header value a client can send at all (tab, printable ASCII, Latin-1's upper half): hostile, not impossible.
const headerValue = (t: string) => t.replace(/[^\t\u0020-\u007e\u0080-\u00ff]/g, "?");
const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV6().map((a) => `[${a}]:${443}`), fc.ipV4().map((a) => `${a}:8080`));
const forwardedFor = fc.option(
  fc.oneof(
    fc.array(fc.oneof(address, text.map(headerValue)), { minLength: 1, maxLength: 60 }).map((hops) => hops.join(", ")),
    text.map(headerValue),
    fc.constantFrom("", ",,,", "unknown", "  ,  ", "127.0.0.1, 127.0.0.1, ::1"),
  ),
  { nil: undefined },
);
const realIp = fc.option(fc.oneof(address, text.map(headerValue)), { nil: undefined });
// A few keys used again and again (replays, and 422s for another body), and anything else.
const idempotencyKey = fc.option(fc.oneof(fc.constantFrom("k1", "k2", "k3"), fc.uuid(), text.map(headerValue)), { nil: undefined });

const anyRequest = fc.record({
  method: fc.constantFrom("GET", "POST", "PATCH", "PUT", "DELETE", "POST", "POST"),
  path,
  contentType: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "", "APPLICATION/JSON"),
  authorization: fc.option(fc.oneof(text.map((t) => `Bearer ${t}`), fc.constant("Bearer "), text).map(headerValue), { nil: undefined }),
  forwardedFor,
  realIp,
  idempotencyKey,
  body,
});

// Creates that are often valid, so the final check compares a real set of entries.
const createRequest = fc.record({
  method: fc.constant("POST"),
  path: fc.constant("/api/entries"),
  contentType: fc.constantFrom("application/json", "application/json; charset=utf-8"),
  authorization: fc.constant(undefined),
  forwardedFor,
  realIp,
  idempotencyKey,
  body: fc.oneof(text, fc.string({ minLength: 1, maxLength: 200 })).map((title) => JSON.stringify({ title })),
});

const request = fc.oneof({ arbitrary: anyRequest, weight: 3 }, { arbitrary: createRequest, weight: 1 });

describe("fuzzing the API", () => {
  it("answers thousands of random and hostile requests without a 5xx, always in the error envelope", async () => {
    const created = new Map<string, string>(); // id → title of every 201
    const statuses = new Map<number, number>();
    const failures: string[] = [];

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.authorization !== undefined) headers.authorization = r.authorization;
        if (r.forwardedFor !== undefined) headers["x-forwarded-for"] = r.forwardedFor;
        if (r.realIp !== undefined) headers["x-real-ip"] = r.realIp;
        if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
        const hasBody = r.method !== "GET" && r.body !== undefined;
        const res = await fetch(`${server.url}${r.path}`, { method: r.method, headers, body: hasBody ? r.body : undefined });
        const textBody = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) failures.push(`${r.method} ${r.path} → ${res.status}: ${textBody.slice(0, 200)}`);
        if (res.status === 201) {
          const entry = JSON.parse(textBody);
          created.set(entry.id, entry.title);
          return;
        }
        if (res.status >= 400) {
          const parsed = JSON.parse(textBody);
          expect(Object.keys(parsed)).toEqual(["error"]);
          expect(typeof parsed.error.code).toBe("string");
          expect(typeof parsed.error.message).toBe("string");
          expect(textBody).not.toMatch(/node_modules|\.ts:\d+|at async|SELECT |prisma/i);
        }
      }),
      { numRuns: 2500, seed: 20261129, endOnFailure: true },
    );

    expect(failures).toEqual([]);
    const { rows } = await db.pool.query(`SELECT id, title, status, progress, version, "lockedBy" FROM "Entry"`);
    expect(rows.length).toBe(created.size);
    for (const row of rows) {
      expect(created.get(row.id)).toBe(row.title);
      expect(row).toMatchObject({ status: "CREATED", progress: 0, version: 0, lockedBy: null });
    }
    // The fuzzer did reach the interesting answers, not only one kind.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(200);
    for (const code of [400, 401, 404, 405, 413, 415, 422]) expect(statuses.get(code) ?? 0).toBeGreaterThan(0);
  });
});
