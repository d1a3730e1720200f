import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db";
import { api, startServer, type TestServer } from "../helpers/server";

// GET /api/openapi.json: a valid OpenAPI 3.1 document that names every route the app serves.
// (That every answer the tests receive conforms to it is checked in tests/helpers/openapi.ts.)

const ROOT = path.resolve(import.meta.dirname, "../..");
const db = await createTestDatabase();
let server: TestServer;
beforeAll(async () => {
  server = await startServer(db.url, { WORKER_ENABLED: "false" });
});
afterAll(() => server?.stop());

/** Every route file under app/api, as the URL template it serves ([id] → {id}), with its exported methods. */
function routes(dir = "app/api"): { template: string; methods: string[] }[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return name.startsWith("[[...") ? [] : routes(rel); // the JSON 404 catch-all
    if (name !== "route.ts") return [];
    const source = readFileSync(path.join(ROOT, rel), "utf8");
    const methods = [...source.matchAll(/export (?:const|async function|function) (GET|POST|PATCH|PUT|DELETE)\b/g)].map((m) => m[1]!);
    return [{ template: `/${dir.replace(/^app\//, "").replace(/\[(\w+)\]/g, "{$1}")}`, methods }];
  });
}

describe("/api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const { status, body } = await api(server.url, "/api/openapi.json");
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    const result = await new Validator().validate(body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("documents every route the app serves, with the methods it implements", async () => {
    const { body } = await api(server.url, "/api/openapi.json");
    const served = routes();
    expect(served.length).toBeGreaterThan(10);
    for (const { template, methods } of served) {
      expect(Object.keys(body.paths)).toContain(template);
      // Each documented method is one the route implements (the others answer 405 with Allow).
      for (const method of Object.keys(body.paths[template])) expect(methods).toContain(method.toUpperCase());
    }
  });

  it("describes the headers that matter and the internal PATCH's bearer scheme", async () => {
    const { body } = await api(server.url, "/api/openapi.json");
    const text = JSON.stringify(body);
    for (const header of ["ETag", "if-match", "if-none-match", "Retry-After", "idempotency-key", "Idempotent-Replayed"]) expect(text).toContain(`"${header}"`);
    expect(body.components.securitySchemes.internalToken).toEqual(expect.objectContaining({ type: "http", scheme: "bearer" }));
    expect(body.paths["/api/entries/{id}"].patch.security).toEqual([{ internalToken: [] }]);
  });
});
