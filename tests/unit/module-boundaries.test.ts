import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Where code runs, told by where it lives, and held to it here:
//   lib/server/  only the server (route handlers, instrumentation, the standalone worker, scripts)
//   lib/client/  only the browser
//   lib/*.ts     both: schemas, the state machine, small helpers
// What the browser loads (components, pages, lib/client, shared lib) may name server modules only in
// `import type` (erased before bundling), and uses nothing of Node's.

const ROOT = path.resolve(import.meta.dirname, "../..");
const filesUnder = (dir: string): string[] =>
  readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    return statSync(path.join(ROOT, rel)).isDirectory() ? filesUnder(rel) : /\.tsx?$/.test(name) ? [rel] : [];
  });

const browserSide = [
  ...filesUnder("components"),
  ...filesUnder("lib/client"),
  ...readdirSync(path.join(ROOT, "lib")).filter((f) => /\.tsx?$/.test(f)).map((f) => path.join("lib", f)),
  // Under app/, pages and layouts are server components; only "use client" files reach the browser.
  ...filesUnder("app").filter((f) => /^["']use client["']/.test(readFileSync(path.join(ROOT, f), "utf8"))),
];

/** Every import statement's specifier, and whether the statement is `import type`. */
function imports(file: string) {
  const source = readFileSync(path.join(ROOT, file), "utf8");
  return [...source.matchAll(/^\s*import\s+(type\s+)?(?:[\s\S]*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => ({
    typeOnly: Boolean(m[1]),
    specifier: m[2]!,
  }));
}

describe("the browser/server boundary", () => {
  it("finds the files it checks", () => {
    expect(browserSide).toEqual(expect.arrayContaining(["components/entries-view.tsx", "lib/client/entry-queries.ts", "lib/validation.ts"]));
  });

  it.each(browserSide)("%s imports no server module except as types, and nothing of Node's", (file) => {
    const bad = imports(file).filter(
      ({ typeOnly, specifier }) =>
        (!typeOnly && specifier.startsWith("@/lib/server/")) || specifier.startsWith("node:") || ["pg", "pino", "next/server"].includes(specifier),
    );
    expect(bad).toEqual([]);
    expect(readFileSync(path.join(ROOT, file), "utf8")).not.toMatch(/\bBuffer\.|process\.env\b/);
  });

  it("keeps shared modules free of browser-only and server-only code alike", () => {
    const shared = browserSide.filter((f) => /^lib\/[^/]+\.tsx?$/.test(f));
    for (const file of shared) {
      expect({ file, imports: imports(file).filter(({ specifier }) => specifier.startsWith("@/lib/client/") || specifier.startsWith("@/lib/server/")) }).toEqual({ file, imports: [] });
    }
  });
});
