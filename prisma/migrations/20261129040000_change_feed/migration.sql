-- The live feed's cursor: which transaction last wrote each entry. A reader that keeps the
-- snapshot of its previous read (pg_current_snapshot) asks for exactly the rows written by
-- transactions that snapshot could not see: no time window to re-read, nothing missed when a
-- transaction commits late, no stall when thousands of rows share a timestamp.
-- Added without a rewrite: rows written before this migration keep NULL until their next change.
ALTER TABLE "Entry" ADD COLUMN "changeTxid" xid8;
ALTER TABLE "Entry" ALTER COLUMN "changeTxid" SET DEFAULT pg_current_xact_id();

-- CreateIndex
CREATE INDEX "Entry_changeTxid_idx" ON "Entry"("changeTxid");

-- Every update records its transaction, whoever writes (the worker, the API, or SQL by hand).
CREATE FUNCTION "entry_record_change_txid"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."changeTxid" := pg_current_xact_id();
  RETURN NEW;
END;
$$;

CREATE TRIGGER "Entry_change_txid" BEFORE UPDATE ON "Entry"
  FOR EACH ROW EXECUTE FUNCTION "entry_record_change_txid"();
