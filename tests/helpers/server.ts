import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { afterAll } from "vitest";
import { conformsToOpenApi } from "./openapi";
import { freePort } from "./ports";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Processes this test file started that have not exited yet. */
const running = new Set<ChildProcess>();

/**
 * Registers a process a test starts, so that it is stopped after the file's tests even when a
 * failing assertion skipped the test's own stop (a server or worker left running can hang CI),
 * and killed if the test process itself exits first.
 */
export function tracked<T extends ChildProcess>(child: T): T {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}
/** Stops every tracked process still running; runs after each test file's tests anyway. */
export function stopTracked() {
  return Promise.all([...running].map((child) => stopProcess(child)));
}
afterAll(stopTracked);
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface TestServer {
  url: string;
  port: number;
  output: () => string;
  kill: (signal: NodeJS.Signals) => void;
  stop: () => Promise<void>;
}

/**
 * Starts the production build (`next start`) on a free port against `databaseUrl`, with the
 * environment `npm start` gives it (scripts/run.ts): the app handles SIGINT/SIGTERM itself.
 */
export async function startServer(databaseUrl: string, env: Record<string, string> = {}, port?: number): Promise<TestServer> {
  port ??= await freePort();
  const child = tracked(spawn(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(port)], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      NEXT_MANUAL_SIG_HANDLE: "true",
      DATABASE_URL: databaseUrl,
      STAGE_DELAY_MS: "100",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  }));
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(url, child, () => output);
  return { url, port, output: () => output, kill: (signal) => child.kill(signal), stop: () => stopProcess(child) };
}

async function waitForHttp(url: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output()}`);
    try {
      await fetch(`${url}/api/entries?limit=1`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill("SIGKILL");
  throw new Error(`server did not answer within 60 s:\n${output()}`);
}

export function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** fetch + JSON, returning the status too; every answer is checked against the server's OpenAPI document. */
export async function api(base: string, pathname: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  const res = await fetch(`${base}${pathname}`, {
    ...rest,
    headers: { ...(json !== undefined ? { "content-type": "application/json" } : {}), ...rest.headers },
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  await conformsToOpenApi(base, rest.method ?? "GET", pathname, res.status, res.headers.get("content-type") ?? "", body);
  return { status: res.status, body, headers: res.headers };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or the time runs out (`what` names the state in the error). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  everyMs = 50,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * A request from a chosen local address, as a distinct client would make it (Linux routes all of
 * 127/8 to the loopback interface, so 127.0.0.2, 127.0.0.3… are real, different peers).
 */
export function requestFrom(
  url: string,
  from: string,
  init: { method?: string; headers?: Record<string, string>; json?: unknown; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  const body = init.json === undefined ? init.body : JSON.stringify(init.json);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: init.method ?? "GET",
        localAddress: from,
        agent: false,
        headers: { ...(init.json !== undefined ? { "content-type": "application/json" } : {}), ...init.headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => {
          let parsed: any = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {}
          const answer = { status: res.statusCode!, headers: res.headers, body: parsed };
          conformsToOpenApi(new URL(url).origin, init.method ?? "GET", url, answer.status, String(res.headers["content-type"] ?? ""), parsed).then(
            () => resolve(answer),
            reject,
          );
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
