-- CreateEnum
CREATE TYPE "StageOutcome" AS ENUM ('SUCCEEDED', 'FAILED');

-- AlterTable
ALTER TABLE "Entry" ADD COLUMN     "attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "runAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateTable
CREATE TABLE "StageExecution" (
    "id" BIGSERIAL NOT NULL,
    "entryId" UUID NOT NULL,
    "fromStatus" "EntryStatus" NOT NULL,
    "toStatus" "EntryStatus" NOT NULL,
    "workerId" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL,
    "finishedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "outcome" "StageOutcome" NOT NULL,
    "error" TEXT,
    "retryAt" TIMESTAMPTZ(3),

    CONSTRAINT "StageExecution_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Entry_status_runAt_idx" ON "Entry"("status", "runAt");

-- CreateIndex
CREATE INDEX "StageExecution_entryId_id_idx" ON "StageExecution"("entryId", "id");

-- AddForeignKey
ALTER TABLE "StageExecution" ADD CONSTRAINT "StageExecution_entryId_fkey" FOREIGN KEY ("entryId") REFERENCES "Entry"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Exactly once, enforced by the database: one successful execution per stage per entry.
-- (Not expressible in schema.prisma; see the comment on StageExecution there.)
CREATE UNIQUE INDEX "StageExecution_once_idx" ON "StageExecution"("entryId", "fromStatus") WHERE "outcome" = 'SUCCEEDED';

-- Wake idle workers (LISTEN entry_ready) when entries arrive. Statement-level, so a bulk insert
-- of a million rows sends one notification, not a million.
CREATE FUNCTION "notify_entry_ready"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('entry_ready', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Entry_notify_ready"
  AFTER INSERT ON "Entry"
  FOR EACH STATEMENT EXECUTE FUNCTION "notify_entry_ready"();
