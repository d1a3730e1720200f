-- Write locality for the worker's batches (issue 16). Every stage transition writes a new version
-- of its "Entry" row (not a HOT update: status and lock columns are indexed), so each index gets an
-- entry per transition, and one "StageExecution" row. With random (version 4) ids, a batch of 500
-- entries touched about 500 different leaf pages of every index keyed by entry id — the primary
-- key, the list index (createdAt, id) whenever createdAt ties, and the execution history — and that
-- was the largest single cost of a transition. Measured one change at a time (docs/benchmarks.md).

-- Entry ids become time-ordered UUIDs (RFC 9562 version 7: 48 bits of Unix milliseconds, then
-- random bits): entries created together sit together in every index keyed by id, so a batch's
-- writes land on a few pages. Still UUIDs, still unguessable in their random part; they reveal the
-- creation time, which the API shows anyway. PostgreSQL 18 has uuidv7(); this works from 13 on.
-- Existing rows keep their ids.
CREATE FUNCTION "uuid_v7"() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
ALTER TABLE "Entry" ALTER COLUMN "id" SET DEFAULT "uuid_v7"();

-- One index by entry on "StageExecution" instead of two. The "exactly once" rule (one SUCCEEDED
-- execution per stage per entry) was a partial unique index beside a plain (entryId, id) index for
-- the history; one unique index over every row now does both: its third key is true for a success
-- and NULL for a failure, and NULLs never conflict, so failures may repeat while a second success
-- is refused. The history (WHERE "entryId" = $1) and the foreign key's cascade read it by entryId.
DROP INDEX "StageExecution_entryId_id_idx";
DROP INDEX "StageExecution_once_idx";
CREATE UNIQUE INDEX "StageExecution_once_idx" ON "StageExecution"("entryId", "fromStatus", (CASE WHEN "outcome" = 'SUCCEEDED' THEN true END));

-- Executions are appended in the order they finish, so a BRIN index (a few bytes per range of
-- pages) answers "finished in the last minute" (GET /api/stats) as well as the B-tree did, and a
-- stage transition no longer inserts into a B-tree for it.
DROP INDEX "StageExecution_finishedAt_idx";
CREATE INDEX "StageExecution_finishedAt_idx" ON "StageExecution" USING BRIN ("finishedAt");
