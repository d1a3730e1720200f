import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { requestFrom, startServer, type TestServer } from "../helpers/server";

// Per-client rules against hostile clients: every spoofable header, sent by real clients from
// distinct loopback addresses (127.0.0.2 and 127.0.0.3: Linux routes all of 127/8 to lo), with
// the app facing them directly and behind a proxy of its own.

const db = await createTestDatabase();
const LIMIT = 5;
const servers: TestServer[] = [];
const closers: (() => void)[] = [];
afterAll(async () => {
  closers.forEach((close) => close());
  await Promise.all(servers.map((s) => s.stop()));
});

const send = requestFrom;

const create = (base: string, from: string, headers: Record<string, string> = {}) =>
  send(`${base}/api/entries`, from, { method: "POST", json: { title: `from ${from}` }, headers }).then((r) => r.status);

const random = () => Math.floor(Math.random() * 256);
/** Every trick a client has: random addresses, long lists, garbage, IPv6, X-Real-IP. */
const spoofs = (n: number): Record<string, string>[] =>
  Array.from({ length: n }, (_, i) =>
    (<Record<string, string>[]>[
      { "x-forwarded-for": `${random()}.${random()}.${random()}.${random()}` },
      { "x-forwarded-for": Array.from({ length: 50 }, () => `10.${random()}.${random()}.${random()}`).join(", ") },
      { "x-forwarded-for": "unknown, <garbage>, ;;;, ", "x-real-ip": `192.0.2.${random()}` },
      { "x-forwarded-for": `2001:db8::${random().toString(16)}`, "x-real-ip": `2001:db8::${random().toString(16)}` },
      { "x-real-ip": `198.51.100.${random()}` },
      { "x-forwarded-for": `[::ffff:${random()}.0.0.1]:80, 127.0.0.${random()}` },
    ])[i % 6]!,
  );

describe("the rate limit, facing clients directly (TRUST_PROXY_HOPS=0)", () => {
  it("cannot be escaped with X-Forwarded-For or X-Real-IP; a second real client has its own budget", async () => {
    const server = await startServer(db.url, { RATE_LIMIT_CREATES_PER_MINUTE: String(LIMIT), WORKER_ENABLED: "false" });
    servers.push(server);
    const spoofed = [];
    for (const headers of spoofs(LIMIT + 4)) spoofed.push(await create(server.url, "127.0.0.2", headers));
    expect(spoofed).toEqual([...Array(LIMIT).fill(201), ...Array(4).fill(429)]);
    expect(await create(server.url, "127.0.0.3")).toBe(201);
  });
});

describe("the rate limit behind a proxy of ours (TRUST_PROXY_HOPS=1)", () => {
  it("limits the clients behind it separately, and their own X-Forwarded-For hops change nothing", async () => {
    const server = await startServer(db.url, { RATE_LIMIT_CREATES_PER_MINUTE: String(LIMIT), WORKER_ENABLED: "false", TRUST_PROXY_HOPS: "1" });
    servers.push(server);
    // A reverse proxy as nginx's $proxy_add_x_forwarded_for does it: append the peer to the header.
    const upstream = new URL(server.url);
    const proxy = http.createServer((req, res) => {
      const forwarded = [req.headers["x-forwarded-for"], req.socket.remoteAddress].filter(Boolean).join(", ");
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, "x-forwarded-for": forwarded } },
        (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(out);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    closers.push(() => proxy.close());
    const viaProxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    const a = [];
    for (const headers of spoofs(LIMIT + 2)) a.push(await create(viaProxy, "127.0.0.2", headers));
    const b = [];
    for (const headers of spoofs(LIMIT + 2)) b.push(await create(viaProxy, "127.0.0.3", headers));
    const expected = [...Array(LIMIT).fill(201), 429, 429];
    expect({ a, b }).toEqual({ a: expected, b: expected });
  });
});

describe("/api/metrics", () => {
  it("is open without METRICS_TOKEN", async () => {
    const server = servers[0]!;
    expect((await send(`${server.url}/api/metrics`, "127.0.0.1")).status).toBe(200);
  });

  it("needs the bearer token with METRICS_TOKEN set", async () => {
    const token = "metrics-token-for-the-scraper";
    const server = await startServer(db.url, { METRICS_TOKEN: token, WORKER_ENABLED: "false" });
    servers.push(server);
    const metrics = (authorization?: string) =>
      send(`${server.url}/api/metrics`, "127.0.0.1", { headers: authorization ? { authorization } : {} });
    const none = await metrics();
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="metrics"');
    expect((await metrics("Bearer not-the-right-token")).status).toBe(401);
    expect((await metrics(`Basic ${Buffer.from(`x:${token}`).toString("base64")}`)).status).toBe(401);
    const ok = await metrics(`Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toContain("text/plain");
  });
});
