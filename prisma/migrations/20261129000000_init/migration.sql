-- CreateEnum
CREATE TYPE "EntryStatus" AS ENUM ('CREATED', 'STAGE_1', 'STAGE_2', 'COMPLETED', 'FAILED');

-- CreateTable
CREATE TABLE "Entry" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "title" VARCHAR(200) NOT NULL,
    "status" "EntryStatus" NOT NULL DEFAULT 'CREATED',
    "progress" INTEGER NOT NULL DEFAULT 0,
    "lockedBy" TEXT,
    "lockedAt" TIMESTAMPTZ(3),
    "result" JSONB,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Entry_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Entry_status_lockedAt_idx" ON "Entry"("status", "lockedAt");

-- CreateIndex
CREATE INDEX "Entry_createdAt_id_idx" ON "Entry"("createdAt" DESC, "id" DESC);
