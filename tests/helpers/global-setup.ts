import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "@/scripts/embedded-postgres";
import { migrate } from "@/lib/server/migrate";
import { freePort } from "./ports";

// Starts one throwaway PostgreSQL (unless TEST_DATABASE_URL names a server to use), migrates a
// template database that each test file copies, and builds the app once for the servers that the
// integration and browser tests start. Nothing here touches the developer's .data/ database.

const ROOT = path.resolve(import.meta.dirname, "../..");
export const TEMPLATE_DB = "aw_test_template";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    templateDb: string;
  }
}

export default async function setup(project: TestProject) {
  // The build first: if it fails, no database server has been started yet to be left behind.
  if (needsBuild(project)) buildApp();

  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopServer = async () => {};
  let dataDir: string | undefined;
  const teardown = async () => {
    await stopServer();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (!adminUrl) {
      dataDir = mkdtempSync(path.join(tmpdir(), "aw-test-pg-"));
      const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
      adminUrl = server.urlFor("postgres");
      stopServer = server.stop;
    }
    const templateUrl = await recreateTemplate(adminUrl);
    await migrate(templateUrl, path.join(ROOT, "prisma", "migrations"));
  } catch (error) {
    // Vitest runs no teardown for a setup that threw; a PostgreSQL left running would hang CI.
    await teardown();
    throw error;
  }

  project.provide("pgAdminUrl", adminUrl);
  project.provide("templateDb", TEMPLATE_DB);
  return teardown;
}

async function recreateTemplate(adminUrl: string) {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await client.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await client.end();
  const url = new URL(adminUrl);
  url.pathname = `/${TEMPLATE_DB}`;
  return url.toString();
}

function needsBuild(project: TestProject) {
  // Unit-only runs (e.g. `vitest run --project unit`) need no server.
  const names = project.vitest.projects.map((p) => p.name);
  return names.some((n) => n === "integration" || n === "e2e");
}

// The build is reused when no source file changed since the last one (a stamp in .next/).
function buildApp() {
  const stampFile = path.join(ROOT, ".next", "test-build-stamp");
  const stamp = sourceStamp();
  if (existsSync(path.join(ROOT, ".next", "BUILD_ID")) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
    return;
  }
  console.log("[tests] building the app (next build)…");
  execFileSync(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "build"], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" },
  });
  writeFileSync(stampFile, stamp);
}

function sourceStamp() {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(file).update(readFileSync(file));
    }
  };
  for (const dir of ["app", "components", "lib", "prisma"]) {
    if (existsSync(path.join(ROOT, dir))) walk(path.join(ROOT, dir));
  }
  // Root files: next.config.ts, proxy.ts, instrumentation.ts, package-lock.json, tsconfig.json…
  for (const file of readdirSync(ROOT).sort()) {
    if (/\.(ts|mjs|json)$/.test(file) && !file.endsWith(".d.ts") && statSync(path.join(ROOT, file)).isFile()) {
      hash.update(file).update(readFileSync(path.join(ROOT, file)));
    }
  }
  return hash.digest("hex");
}
