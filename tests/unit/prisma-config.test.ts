import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// Prisma's CLI must resolve the same database as the app: env files loaded as Next.js loads them,
// the embedded server's URL when nothing is set, DIRECT_URL first when there is one. Each case
// evaluates prisma.config.ts with Prisma's own loader (as `npx prisma …` does) in a scratch copy of
// the project with its own env files, and an environment holding nothing else.

const ROOT = path.resolve(import.meta.dirname, "../..");
const scratch: string[] = [];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

async function cliDatasourceUrl(files: Record<string, string>, env: Record<string, string> = {}): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "aw-prisma-config-"));
  scratch.push(dir);
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  mkdirSync(path.join(dir, "lib", "server"), { recursive: true });
  copyFileSync(path.join(ROOT, "prisma.config.ts"), path.join(dir, "prisma.config.ts"));
  copyFileSync(path.join(ROOT, "lib", "server", "config.ts"), path.join(dir, "lib", "server", "config.ts"));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const script = `const { loadConfigFromFile } = await import("@prisma/config");
    const r = await loadConfigFromFile({ configRoot: process.cwd() });
    console.log(JSON.stringify(r.error ? { error: String(r.error.error ?? r.error._tag) } : r.config.datasource));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as unknown as NodeJS.ProcessEnv,
  });
  const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
  if (result.error) throw new Error(result.error);
  return result.url;
}

const ownServer = "postgresql://me:secret@db.example:5432/async_workflow_db";
const pooler = "postgresql://me:secret@pooler.example:6432/async_workflow_db";

describe.concurrent("prisma.config.ts, as Prisma's CLI reads it", { timeout: 60_000 }, () => {
  it.each([
    ["nothing set: the embedded server that `npm run dev` runs", {}, {}, "postgresql://postgres:postgres@127.0.0.1:54329/async_workflow"],
    ["EMBEDDED_PG_PORT in .env", { ".env": "EMBEDDED_PG_PORT=55432\n" }, {}, "postgresql://postgres:postgres@127.0.0.1:55432/async_workflow"],
    ["DATABASE_URL in .env.local (the seed's setup)", { ".env.local": `DATABASE_URL="${ownServer}"\n` }, {}, ownServer],
    ["DATABASE_URL in .env.development", { ".env.development": `DATABASE_URL=${ownServer}\n` }, {}, ownServer],
    [".env.local over .env", { ".env": `DATABASE_URL=${pooler}\n`, ".env.local": `DATABASE_URL=${ownServer}\n` }, {}, ownServer],
    ["the environment over any file", { ".env.local": `DATABASE_URL=${pooler}\n` }, { DATABASE_URL: ownServer }, ownServer],
    ["DIRECT_URL over DATABASE_URL (migrations skip the pooler)", { ".env.local": `DATABASE_URL=${pooler}\nDIRECT_URL=${ownServer}\n` }, {}, ownServer],
  ])("%s", async (_case, files, env, expected) => {
    expect(await cliDatasourceUrl(files, env)).toBe(expected);
  });

  it("refuses a DATABASE_URL the app would refuse, naming it", async () => {
    await expect(cliDatasourceUrl({ ".env.local": "DATABASE_URL=mysql://nope\n" })).rejects.toThrow(/DATABASE_URL/);
  });
});
