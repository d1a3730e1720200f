import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// Every answer the HTTP tests receive, held to the OpenAPI document the server serves: the path is
// documented (else it must be a 404 in the error envelope), so is the method (else a 405), so is
// the status, and the body is valid against the schema (objects close: no field the document does
// not name). The document therefore cannot drift from what the server does.

type Operation = { responses: Record<string, { content?: Record<string, unknown> }> };
interface Checker {
  check(method: string, pathname: string, status: number, contentType: string, body: unknown): string | null;
}

const checkers = new Map<string, Promise<Checker>>();

/** Throws if the answer does not conform to the server's OpenAPI document. */
export async function conformsToOpenApi(base: string, method: string, url: string, status: number, contentType: string, body: unknown) {
  let checker = checkers.get(base);
  if (!checker) {
    checker = load(base);
    checkers.set(base, checker);
    checker.catch(() => checkers.delete(base));
  }
  const problem = (await checker).check(method.toUpperCase(), new URL(url, base).pathname, status, contentType, body);
  if (problem) throw new Error(`Not as documented in /api/openapi.json: ${method} ${url} → ${status}: ${problem}`);
}

async function load(base: string): Promise<Checker> {
  const res = await fetch(`${base}/api/openapi.json`);
  if (!res.ok) throw new Error(`/api/openapi.json answered ${res.status}`);
  const doc = (await res.json()) as { paths: Record<string, Record<string, Operation>> };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc, "openapi");
  const pointer = (...parts: string[]) => `openapi#/${parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;
  const errorEnvelope = ajv.getSchema(pointer("components", "schemas", "Error"))!;
  // Literal paths first: /api/entries/stream before /api/entries/{id}.
  const templates = Object.keys(doc.paths)
    .map((template) => ({ template, params: (template.match(/\{/g) ?? []).length, regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`) }))
    .sort((a, b) => a.params - b.params);
  const explain = (validate: { errors?: unknown }) => JSON.stringify(validate.errors).slice(0, 600);

  return {
    check(method, pathname, status, contentType, body) {
      const match = templates.find((t) => t.regex.test(pathname));
      const operation = match && doc.paths[match.template]![method.toLowerCase()];
      if (!match || !operation) {
        const expected = match ? 405 : 404;
        if (status !== expected) return `undocumented ${match ? "method" : "path"}, answered ${status} (expected ${expected})`;
        return errorEnvelope(body) ? null : `not the error envelope: ${explain(errorEnvelope)}`;
      }
      const response = operation.responses[String(status)];
      if (!response) return `status ${status} is not documented (documented: ${Object.keys(operation.responses).join(", ")})`;
      if (!response.content) return body === null || body === "" ? null : "documented without a body, answered with one";
      const mediaType = contentType.split(";")[0]!.trim();
      if (!(mediaType in response.content)) return `content type ${mediaType} is not documented (documented: ${Object.keys(response.content).join(", ")})`;
      if (mediaType !== "application/json") return null;
      const validate = ajv.getSchema(pointer("paths", match.template, method.toLowerCase(), "responses", String(status), "content", mediaType, "schema"))!;
      return validate(body) ? null : explain(validate);
    },
  };
}
