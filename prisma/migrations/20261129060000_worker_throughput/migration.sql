-- Throughput as shipped (issue 16). Each change was measured with `npm run bench` before it stayed;
-- docs/benchmarks.md has the numbers.

-- Claims read free entries in "runAt" order. An index on (status, "runAt") cannot give that order
-- across the three active statuses, so every claim read and sorted the whole backlog (16 ms for
-- 20,000 waiting entries, paid per batch), and walked past every row other workers held. An index
-- of free, active entries only, by "runAt", hands a claim its batch in order and stops: claimed and
-- finished rows leave it, and the worker's writes rarely insert into it (only releases do).
-- Abandoned locks (expired, or holder dead) are found through the lock index below, first.
DROP INDEX "Entry_status_runAt_idx";
CREATE INDEX "Entry_due_idx" ON "Entry"("runAt") WHERE status IN ('CREATED', 'STAGE_1', 'STAGE_2') AND "lockedBy" IS NULL;

-- The seed's index on (status, "lockedAt") serves lock queries, which only ever look at locked
-- rows: indexing those alone spares every lock release an index insert.
DROP INDEX "Entry_status_lockedAt_idx";
CREATE INDEX "Entry_status_lockedAt_idx" ON "Entry"(status, "lockedAt") WHERE "lockedAt" IS NOT NULL;

-- Per-status counts spread over shards (one per server backend, modulo 16): each statement adds
-- its net change to its own connection's shard, so concurrent workers' advances no longer queue
-- on the same few rows until commit. Reads sum the shards; still exact, still no count(*).
ALTER TABLE "EntryStatusCount" ADD COLUMN "shard" SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE "EntryStatusCount" DROP CONSTRAINT "EntryStatusCount_pkey";
ALTER TABLE "EntryStatusCount" ADD CONSTRAINT "EntryStatusCount_pkey" PRIMARY KEY ("status", "shard");

CREATE OR REPLACE FUNCTION "entry_status_count_apply"(deltas jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE d record;
BEGIN
  -- Rows in status order, so two statements on one shard cannot deadlock on them.
  FOR d IN SELECT key::"EntryStatus" AS status, value::bigint AS n FROM jsonb_each_text(deltas) ORDER BY 1 LOOP
    INSERT INTO "EntryStatusCount" AS c (status, shard, count) VALUES (d.status, pg_backend_pid() % 16, d.n)
      ON CONFLICT (status, shard) DO UPDATE SET count = c.count + EXCLUDED.count;
  END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION "entry_status_count_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "EntryStatusCount";
  INSERT INTO "EntryStatusCount" (status, shard, count) SELECT s, 0, 0 FROM unnest(enum_range(NULL::"EntryStatus")) s;
  RETURN NULL;
END;
$$;

-- The change feed's cursor is set by a row trigger only when the statement did not set it itself:
-- the worker's statements do (a plpgsql call per row was a measurable share of a batch).
DROP TRIGGER "Entry_change_txid" ON "Entry";
CREATE TRIGGER "Entry_change_txid" BEFORE UPDATE ON "Entry"
  FOR EACH ROW WHEN (NEW."changeTxid" IS NOT DISTINCT FROM OLD."changeTxid")
  EXECUTE FUNCTION "entry_record_change_txid"();
