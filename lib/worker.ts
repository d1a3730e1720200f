import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { config } from "@/lib/config";
import { createListenConnection } from "@/lib/db";
import {
  advanceEntries,
  claimEntries,
  claimEntry,
  failStage,
  heartbeat,
  recordWorkerAlive,
  recordWorkerStopped,
  releaseLocks,
  type Advance,
  type ClaimedEntry,
} from "@/lib/entries";
import { logger } from "@/lib/logger";
import { metrics } from "@/lib/metrics";
import { PROGRESS, nextStatus } from "@/lib/stages";

// The stage worker. Each stage of each entry, as the spec says: claim the row's lock → do the
// stage's work (a delay) → advance status and progress while still holding the lock, releasing it
// in the same statement. Entries are claimed in batches with FOR UPDATE SKIP LOCKED, so many
// processes share a backlog without blocking each other, and a batch advances in one statement.
//
// Work finds the worker three ways: the web process hands over a new entry directly (after()),
// an idle worker is woken by NOTIFY entry_ready when entries are inserted, and every
// SWEEP_INTERVAL_MS it looks anyway, which picks up expired locks, due retries and missed wake-ups.

export interface WorkerOptions {
  workerId: string;
  stageDelayMs: number;
  lockTtlMs: number;
  concurrency: number;
  batchSize: number;
  sweepIntervalMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  failureRate: number;
  shutdownGraceMs: number;
}

export function workerOptionsFromConfig(overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    workerId: config.workerId,
    stageDelayMs: config.STAGE_DELAY_MS,
    lockTtlMs: config.LOCK_TTL_MS,
    concurrency: config.WORKER_CONCURRENCY,
    batchSize: config.WORKER_BATCH_SIZE,
    sweepIntervalMs: config.SWEEP_INTERVAL_MS,
    maxAttempts: config.MAX_ATTEMPTS,
    retryBaseMs: config.RETRY_BASE_MS,
    retryMaxMs: config.RETRY_MAX_MS,
    failureRate: config.FAILURE_RATE,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    ...overrides,
  };
}

/**
 * Delay before the next attempt after `attempt` failed: exponential, capped, with "equal jitter"
 * (half fixed, half random). The fixed half keeps each delay at least as long as the previous
 * one's maximum, so delays grow even with jitter, while the random half spreads retries apart.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** How often a worker records that it is alive (the Worker table); readiness allows 3 of these. */
export const WORKER_ALIVE_INTERVAL_MS = 5000;

export class StageWorker {
  readonly id: string;
  private running = false;
  /** Entries whose lock this worker holds right now. */
  private readonly held = new Map<string, ClaimedEntry>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly shutdown = new AbortController();
  /** Set by wake(): work may have arrived since the last claim, so claim again before sleeping. */
  private wakeRequested = false;
  private endIdle: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private listener: pg.Client | null = null;
  private aliveTimer: NodeJS.Timeout | undefined;
  private readonly log;

  constructor(readonly options: WorkerOptions) {
    this.id = options.workerId;
    this.log = logger.child({ workerId: this.id });
  }

  start() {
    if (this.running) return;
    this.running = true;
    const recordAlive = () =>
      recordWorkerAlive(this.id, hostname(), process.pid).catch((error: unknown) =>
        this.log.warn({ err: error }, "could not record that this worker is alive"),
      );
    void recordAlive();
    this.aliveTimer = setInterval(recordAlive, WORKER_ALIVE_INTERVAL_MS);
    this.aliveTimer.unref();
    void this.listen();
    this.loopDone = this.loop();
    this.log.info({ concurrency: this.options.concurrency, stageDelayMs: this.options.stageDelayMs }, "worker started");
  }

  /**
   * Stops claiming, lets the stages in hand finish for up to shutdownGraceMs, then interrupts the
   * rest and releases their locks so another worker resumes them from their last committed stage.
   */
  async stop() {
    if (!this.running) return;
    this.running = false;
    this.wake();
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
    const settled = Promise.allSettled([...this.inFlight]);
    const finished = await Promise.race([settled.then(() => true), sleep(this.options.shutdownGraceMs, false)]);
    if (!finished) {
      this.shutdown.abort();
      await settled;
    }
    await this.loopDone;
    clearInterval(this.aliveTimer);
    await recordWorkerStopped(this.id).catch(() => {});
    this.log.info({ interrupted: !finished }, "worker stopped");
  }

  /**
   * The spec's path for a newly created entry: follow it through every stage, claiming it by id
   * for each. Returns when it is finished, failed, taken by another worker, or capacity is full
   * (then the claim loop gets it). Never rejects.
   */
  async processEntry(id: string): Promise<void> {
    try {
      while (this.running && this.held.size < this.options.concurrency) {
        const claimed = await claimEntry(id, this.id, this.options.lockTtlMs);
        if (!claimed) return;
        const advanced = await this.track(this.runBatch([claimed]));
        if (advanced.length === 0) return;
      }
    } catch (error) {
      this.log.error({ err: error, entryId: id }, "processing an entry failed");
    }
  }

  /** New work, freed capacity or shutdown: end the idle wait now, or skip the next one. */
  private wake() {
    this.wakeRequested = true;
    this.endIdle?.();
  }

  private async loop() {
    while (this.running) {
      this.wakeRequested = false; // a wake-up from here on (even during the claim) counts
      const free = this.options.concurrency - this.held.size;
      if (free > 0) {
        const claimed = await claimEntries(this.id, this.options.lockTtlMs, Math.min(free, this.options.batchSize)).catch(
          (error: unknown) => {
            this.log.error({ err: error }, "claiming entries failed");
            return [];
          },
        );
        if (claimed.length > 0) {
          const reclaimed = claimed.filter((e) => e.reclaimed).length;
          if (reclaimed > 0) {
            metrics.lockReclaims.inc(reclaimed);
            this.log.warn({ entries: reclaimed }, "reclaimed entries whose holder's lock had expired");
          }
          void this.track(this.runBatch(claimed)).finally(() => this.wake());
          continue;
        }
      }
      if (this.wakeRequested) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.endIdle?.(), this.options.sweepIntervalMs);
        this.endIdle = () => {
          clearTimeout(timer);
          this.endIdle = null;
          resolve();
        };
      });
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => {});
    return promise;
  }

  /** Runs the current stage of every claimed entry; returns the ids that advanced. Never rejects. */
  private async runBatch(batch: ClaimedEntry[]): Promise<string[]> {
    for (const entry of batch) this.held.set(entry.id, entry);
    const stage = { finishing: false };
    const beat = setInterval(() => void this.heartbeat(batch, stage), Math.max(50, this.options.lockTtlMs / 3));
    try {
      const outcomes = await Promise.all(
        batch.map((entry) => this.performStage(entry).then(() => null, (error: unknown) => error)),
      );
      if (this.shutdown.signal.aborted) {
        await releaseLocks(this.id, batch.map((e) => e.id));
        return [];
      }
      stage.finishing = true; // from here on the guarded writes release the locks themselves
      const advances: Advance[] = [];
      const failures: Promise<unknown>[] = [];
      batch.forEach((entry, i) => {
        if (!this.held.has(entry.id)) return; // lost its lock meanwhile; the new holder carries on
        const error = outcomes[i];
        if (error) failures.push(this.fail(entry, error));
        else advances.push(this.advanceOf(entry));
      });
      const [advanced] = await Promise.all([this.advance(advances), ...failures]);
      const advancedIds = new Set(advanced);
      for (const a of advances) {
        const durationMs = Date.now() - a.entry.lockedAt.getTime();
        const outcome = advancedIds.has(a.entry.id) ? "succeeded" : "lock_lost";
        metrics.stageAttempts.inc({ stage: a.to, outcome });
        metrics.stageDuration.observe({ stage: a.to, outcome }, durationMs / 1000);
        this.log.info(
          { entryId: a.entry.id, stage: a.to, attempt: a.entry.attempts, durationMs },
          outcome === "succeeded" ? "stage completed" : "stage result dropped: lock lost",
        );
      }
      return advanced;
    } catch (error) {
      this.log.error({ err: error, entries: batch.length }, "stage batch failed; its locks expire after the TTL");
      return [];
    } finally {
      clearInterval(beat);
      for (const entry of batch) this.held.delete(entry.id);
    }
  }

  /**
   * Advances a batch in one statement. Should that statement fail (say, one row breaks a
   * constraint), the rows are retried one by one so that one bad entry cannot hold back the
   * others; the bad one is handled as a failed stage, retried and, in the end, FAILED.
   */
  private async advance(advances: Advance[]): Promise<string[]> {
    try {
      return await advanceEntries(this.id, advances);
    } catch (error) {
      if (advances.length === 1) {
        await this.fail(advances[0]!.entry, error);
        return [];
      }
      this.log.warn({ err: error, entries: advances.length }, "batch advance failed; advancing one by one");
      return (await Promise.all(advances.map((a) => this.advance([a])))).flat();
    }
  }

  /** The stage's work. The demo simulates it with a delay; FAILURE_RATE makes it fail on purpose. */
  private async performStage(entry: ClaimedEntry) {
    if (this.options.stageDelayMs > 0) {
      await sleep(this.options.stageDelayMs, undefined, { signal: this.shutdown.signal });
    }
    if (this.options.failureRate > 0 && Math.random() < this.options.failureRate) {
      throw new Error(`Injected failure in ${nextStatus(entry.status)} (FAILURE_RATE=${this.options.failureRate})`);
    }
  }

  private advanceOf(entry: ClaimedEntry): Advance {
    const to = nextStatus(entry.status);
    if (!to) throw new Error(`entry ${entry.id} claimed in terminal status ${entry.status}`);
    return {
      entry,
      to,
      progress: PROGRESS[to] ?? 0,
      result: to === "COMPLETED" ? { completedAt: new Date().toISOString(), message: "All stages completed" } : null,
    };
  }

  private async fail(entry: ClaimedEntry, error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    const { maxAttempts, retryBaseMs, retryMaxMs } = this.options;
    const delay = entry.attempts < maxAttempts ? retryDelayMs(entry.attempts, retryBaseMs, retryMaxMs) : null;
    await failStage(this.id, { entry, message, retryDelayMs: delay });
    const stage = nextStatus(entry.status) ?? entry.status;
    metrics.stageAttempts.inc({ stage, outcome: "failed" });
    metrics.stageDuration.observe({ stage, outcome: "failed" }, (Date.now() - entry.lockedAt.getTime()) / 1000);
    this.log.warn({ entryId: entry.id, stage: nextStatus(entry.status), attempt: entry.attempts, retryInMs: delay, err: message }, "stage failed");
    if (delay !== null) setTimeout(() => this.wake(), delay + 5).unref();
  }

  private async heartbeat(batch: ClaimedEntry[], stage: { finishing: boolean }) {
    if (stage.finishing) return;
    const mine = batch.filter((e) => this.held.has(e.id)).map((e) => e.id);
    const still = await heartbeat(this.id, mine).catch(() => null);
    // Unreachable database: keep working, the guarded writes decide. Finishing: the locks were
    // released by the advance itself, not lost.
    if (!still || stage.finishing) return;
    for (const id of mine) {
      if (!still.has(id)) {
        this.held.delete(id);
        this.log.warn({ entryId: id }, "lock lost to another worker");
      }
    }
  }

  /** A dedicated connection LISTENing for new entries; reconnects while the worker runs. */
  private async listen() {
    while (this.running) {
      const client = createListenConnection();
      try {
        await client.connect();
        client.on("notification", () => this.wake());
        await client.query("LISTEN entry_ready");
        this.listener = client;
        if (!this.running) await client.end();
        await new Promise<void>((resolve) => {
          client.once("error", () => resolve());
          client.once("end", () => resolve());
        });
      } catch (error) {
        this.log.warn({ err: error }, "LISTEN connection failed; relying on the sweep until it reconnects");
      }
      await client.end().catch(() => {});
      if (this.running) await sleep(1000);
    }
  }
}

// The web process's worker lives on globalThis: instrumentation.ts and the route handlers are
// bundled separately and would otherwise each see their own module instance.
const registry = globalThis as unknown as { inProcessWorker?: StageWorker };

export function startInProcessWorker(): StageWorker {
  if (!registry.inProcessWorker) {
    const worker = new StageWorker(workerOptionsFromConfig());
    registry.inProcessWorker = worker;
    // Best effort: stop claiming and hand back locks on shutdown. If the process dies first, the
    // locks expire after LOCK_TTL_MS and another worker resumes the entries.
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void worker.stop());
  }
  registry.inProcessWorker.start();
  return registry.inProcessWorker;
}

export function getInProcessWorker(): StageWorker | undefined {
  return registry.inProcessWorker;
}
