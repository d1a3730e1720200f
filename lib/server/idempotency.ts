import { createHash } from "node:crypto";
import { pool, type Queryable } from "@/lib/server/db";
import { ApiError } from "@/lib/server/api-error";
import { clientAddress } from "@/lib/server/client-identity";
import { idempotencyKeySchema } from "@/lib/validation";

// Idempotency-Key (the IETF draft's header, Stripe's semantics): the first request with a key does
// the work, and its answer is kept with the key — in the same transaction as the work, so there is
// never an entry without its kept answer or the other way round. A repeat with the same key and
// the same request gets that answer again, marked Idempotent-Replayed: true; the same key with
// another request is a 422. A repeat that arrives while the first is still working waits for it:
// its INSERT of the key waits on the first one's uncommitted row (PostgreSQL's unique index does
// the waiting), then finds the answer. Keys belong to a client (the rate limit's identity), so
// two clients never see each other's answers, and live KEEP_FOR.

const KEEP_FOR = "24 hours";
/** How long a repeat waits for a first request still at work before answering 409. */
const WAIT_FOR_FIRST = "10s";

export interface IdempotentRequest {
  scope: string;
  key: string;
  /** "POST /api/entries/…/retry": the endpoint the key was used on. */
  endpoint: string;
  /** SHA-256 of the endpoint and the request's parsed input: what a repeat must match. */
  fingerprint: string;
}

export interface Outcome {
  status: number;
  body: unknown;
  /** Answered from a kept response, not by doing the work again. */
  replayed: boolean;
}

/** The request's idempotency key, if it sent one (400 for a malformed one). */
export function idempotentRequest(req: Request, input: unknown = null): IdempotentRequest | null {
  const header = req.headers.get("idempotency-key");
  if (header === null) return null;
  const key = idempotencyKeySchema.parse(header);
  const endpoint = `${req.method} ${new URL(req.url).pathname}`;
  const fingerprint = createHash("sha256").update(endpoint).update("\n").update(JSON.stringify(input)).digest("hex");
  return { scope: clientAddress(req.headers), key, endpoint, fingerprint };
}

/**
 * Runs `work` once per key. `work` gets the connection to run on (inside the transaction that
 * keeps its answer) and returns the status and body to answer. An ApiError it throws below 500 is
 * an answer too, kept and replayed like any other; anything else undoes it all, key included, so
 * a retry with the same key can do the work.
 */
export async function once(
  request: IdempotentRequest | null,
  work: (db: Queryable) => Promise<{ status: number; body: unknown }>,
): Promise<Outcome> {
  if (!request) return { ...(await work(pool)), replayed: false };
  const client = await pool.connect();
  try {
    for (;;) {
      await client.query("BEGIN");
      await client.query(`SET LOCAL lock_timeout = '${WAIT_FOR_FIRST}'`);
      const mine = await client
        .query(
          `INSERT INTO "IdempotencyKey" (scope, key, endpoint, fingerprint, "responseStatus", "responseBody", "expiresAt")
           VALUES ($1, $2, $3, $4, 0, 'null', now() + interval '${KEEP_FOR}')
           ON CONFLICT (scope, key) DO NOTHING`,
          [request.scope, request.key, request.endpoint, request.fingerprint],
        )
        .catch((error: { code?: string }) => {
          if (error.code === "55P03") throw new ApiError(409, "conflict", "A request with this Idempotency-Key is still in progress; try again shortly");
          throw error;
        });
      if (mine.rowCount === 1) {
        const answer = await work(client).catch((error: unknown) => {
          if (error instanceof ApiError && error.status < 500) return { status: error.status, body: error.envelope() };
          throw error;
        });
        await client.query(`UPDATE "IdempotencyKey" SET "responseStatus" = $3, "responseBody" = $4 WHERE scope = $1 AND key = $2`, [
          request.scope,
          request.key,
          answer.status,
          JSON.stringify(answer.body),
        ]);
        await client.query("COMMIT");
        return { ...answer, replayed: false };
      }
      const { rows } = await client.query<{ endpoint: string; fingerprint: string; responseStatus: number; responseBody: unknown; expired: boolean }>(
        `SELECT endpoint, fingerprint, "responseStatus", "responseBody", "expiresAt" <= now() AS expired
           FROM "IdempotencyKey" WHERE scope = $1 AND key = $2`,
        [request.scope, request.key],
      );
      const kept = rows[0];
      if (!kept || kept.expired) {
        // Gone meanwhile, or past its time: the key is free again.
        if (kept) await client.query(`DELETE FROM "IdempotencyKey" WHERE scope = $1 AND key = $2`, [request.scope, request.key]);
        await client.query("COMMIT");
        continue;
      }
      await client.query("COMMIT");
      if (kept.endpoint !== request.endpoint || kept.fingerprint !== request.fingerprint) {
        throw new ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request; use a new key for a new request");
      }
      return { status: kept.responseStatus, body: kept.responseBody, replayed: true };
    }
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Deletes the keys past their time; the web server runs it at start and every hour. */
export async function pruneIdempotencyKeys(): Promise<number> {
  const { rowCount } = await pool.query(`DELETE FROM "IdempotencyKey" WHERE "expiresAt" <= now()`);
  return rowCount ?? 0;
}

/** Prunes now and every hour, in the background (one web process doing it is enough, several are harmless). */
export function startPruningIdempotencyKeys() {
  const prune = () => void pruneIdempotencyKeys().catch(() => {});
  prune();
  setInterval(prune, 3600_000).unref();
}
