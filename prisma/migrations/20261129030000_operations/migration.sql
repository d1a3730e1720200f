-- AlterTable
ALTER TABLE "Entry" ADD COLUMN     "cancelRequestedAt" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "Worker" (
    "id" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "stoppedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Worker_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EntryStatusCount" (
    "status" "EntryStatus" NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "EntryStatusCount_pkey" PRIMARY KEY ("status")
);

-- CreateIndex
CREATE INDEX "Entry_updatedAt_idx" ON "Entry"("updatedAt");

-- CreateIndex
CREATE INDEX "StageExecution_finishedAt_idx" ON "StageExecution"("finishedAt");

-- Exact per-status counts without counting the table on every request: statement-level triggers
-- apply each statement's net change per status (from its transition tables) to one row per status.
-- Rows are updated in status order, so concurrent writers cannot deadlock on them; a statement
-- that changes no status (a claim, a heartbeat) writes nothing here.
INSERT INTO "EntryStatusCount" (status, count)
SELECT s.status, (SELECT count(*) FROM "Entry" e WHERE e.status = s.status)
  FROM unnest(enum_range(NULL::"EntryStatus")) AS s(status);

CREATE FUNCTION "entry_status_count_apply"(deltas jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE d record;
BEGIN
  FOR d IN SELECT key::"EntryStatus" AS status, value::bigint AS n FROM jsonb_each_text(deltas) ORDER BY 1 LOOP
    UPDATE "EntryStatusCount" SET count = count + d.n WHERE status = d.status;
  END LOOP;
END;
$$;

CREATE FUNCTION "entry_status_count_on_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "entry_status_count_apply"(
    (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM new_rows GROUP BY status) x));
  RETURN NULL;
END;
$$;

CREATE FUNCTION "entry_status_count_on_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "entry_status_count_apply"((
    SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM (
      SELECT status, sum(n) AS n FROM (
        SELECT status, -count(*) AS n FROM old_rows GROUP BY status
        UNION ALL
        SELECT status, count(*) AS n FROM new_rows GROUP BY status
      ) both_sides GROUP BY status HAVING sum(n) <> 0
    ) x));
  RETURN NULL;
END;
$$;

CREATE FUNCTION "entry_status_count_on_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "entry_status_count_apply"(
    (SELECT coalesce(jsonb_object_agg(status, -n), '{}') FROM (SELECT status, count(*) AS n FROM old_rows GROUP BY status) x));
  RETURN NULL;
END;
$$;

CREATE FUNCTION "entry_status_count_on_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "EntryStatusCount" SET count = 0;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Entry_count_insert" AFTER INSERT ON "Entry"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "entry_status_count_on_insert"();
CREATE TRIGGER "Entry_count_update" AFTER UPDATE ON "Entry"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "entry_status_count_on_update"();
CREATE TRIGGER "Entry_count_delete" AFTER DELETE ON "Entry"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "entry_status_count_on_delete"();
CREATE TRIGGER "Entry_count_truncate" AFTER TRUNCATE ON "Entry"
  FOR EACH STATEMENT EXECUTE FUNCTION "entry_status_count_on_truncate"();

-- Live push: any statement that inserts or updates entries pings LISTEN entries_changed once
-- (the web server's SSE feed then reads what changed by "updatedAt").
CREATE FUNCTION "notify_entries_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('entries_changed', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Entry_notify_changed" AFTER INSERT OR UPDATE ON "Entry"
  FOR EACH STATEMENT EXECUTE FUNCTION "notify_entries_changed"();
