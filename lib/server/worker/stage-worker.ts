import { hostname } from "node:os";
import { config } from "@/lib/server/config";
import { logger } from "@/lib/server/logger";
import { metrics } from "@/lib/server/metrics";
import { isRetryableDbError } from "@/lib/server/db-errors";
import { Listener } from "@/lib/server/listener";
import { WORKER_ALIVE_INTERVAL_MS, pruneWorkers, recordWorkerAlive, recordWorkerStopped } from "@/lib/server/worker/liveness";
import {
  advanceEntries,
  claimEntries,
  failStage,
  heldBy,
  recordedBy,
  refreshLocks,
  releaseClaim,
  type Advance,
  type ClaimedEntry,
} from "@/lib/server/worker/queries";
import { CANCELLED_ERROR, PROGRESS, nextStatus } from "@/lib/stages";

// The stage worker. Each stage of each entry, as the spec says: claim the row's lock → do the
// stage's work (a delay) → advance status and progress while still holding the lock, releasing it
// in the same statement. Entries are claimed in batches with FOR UPDATE SKIP LOCKED, so many
// processes share a backlog without blocking each other, and a batch advances in one statement.
// That statement also claims each advanced entry's next stage (a fresh lock token, attempts and
// lockedAt restarted): "release, then claim the next stage" for an entry this worker follows,
// written once instead of twice, so every stage still runs under a claim of its own.
//
// Work finds the worker three ways: the web process hands over a new entry directly
// (processEntry), an idle worker is woken by NOTIFY entry_ready when entries are inserted, and
// every SWEEP_INTERVAL_MS it looks anyway, which picks up locks of dead workers, due retries and
// missed wake-ups.
//
// What it promises about locks: each claim has its own lock token, and the worker's bookkeeping
// is per claim, so overlapping claims of one entry never drop each other's lock. Every lock it takes
// is released by a write (advance, fail, or release) — retried while the database is unreachable —
// unless the process dies; a dead process's locks are freed by the liveness rule within seconds.

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
  hooks?: WorkerHooks;
}

/** Points where tests hold the worker still to make a race happen on purpose. */
export interface WorkerHooks {
  /** Replaces a stage's simulated work. */
  stageWork?: (entry: ClaimedEntry) => Promise<void>;
  /** Runs after a claim's final writes, before its bookkeeping is cleared. */
  afterWrites?: (advancedIds: string[]) => Promise<void>;
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

/** A write that cannot reach the database is tried again after 100 ms, 200 ms… up to every 2 s. */
const WRITE_RETRY_FIRST_MS = 100;
const WRITE_RETRY_MAX_MS = 2000;
/** At shutdown, after the grace period, how long the hand-back writes may keep retrying. */
const STOP_WRITES_DEADLINE_MS = 5000;
/** Worker rows silent this long are forgotten (at least the lock TTL, see pruneWorkers). */
const FORGET_WORKERS_AFTER_MS = 24 * 3600_000;

/** One claim statement's locks: the token they carry and the entries it took. */
interface Claim {
  token: string;
  entries: ClaimedEntry[];
  /** Set when the final writes start: they release the locks themselves, so a heartbeat then finding them gone means nothing. */
  finishing: boolean;
  /** Entries whose stage was recorded as failed (including advances that failed and fell back to that). */
  failed: Set<string>;
}

type StageOutcome = "done" | "interrupted" | Error;

export class StageWorker {
  readonly id: string;
  private running = false;
  private stopping: Promise<void> | null = null;
  private claimCount = 0;
  /** Entry id → the claim whose lock it carries right now. */
  private readonly held = new Map<string, Claim>();
  /** Capacity promised to claim statements still on their way, so overlapping claims never exceed it. */
  private reserved = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Set when the grace period ends: stages still waiting stop and hand their locks back. */
  private interrupted = false;
  /** Set when the shutdown deadline passes with the database unreachable: writes stop retrying. */
  private abandoned = false;
  /** Every pending wait (stage delays, write retries, idle sleep): ended early by interrupt(). */
  private readonly waits = new Set<() => void>();
  /** Set by wake(): work may have arrived since the last claim, so claim again before sleeping. */
  private wakeRequested = false;
  private endIdle: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private listener: Listener | null = null;
  private aliveTimer: NodeJS.Timeout | undefined;
  private aliveFailing = false;
  /** The first write of this worker's row; no claim is made before it. */
  private firstBeat: Promise<void> = Promise.resolve();
  private readonly log;

  constructor(readonly options: WorkerOptions) {
    this.id = options.workerId;
    this.log = logger.child({ workerId: this.id });
  }

  start() {
    if (this.running || this.stopping) return;
    this.running = true;
    // The Worker row first, then claims: a lock must never name a holder whose row is missing or stale.
    this.firstBeat = this.recordAlive();
    this.aliveTimer = setInterval(() => void this.recordAlive(), WORKER_ALIVE_INTERVAL_MS);
    this.aliveTimer.unref();
    void pruneWorkers(Math.max(FORGET_WORKERS_AFTER_MS, this.options.lockTtlMs)).catch(() => {});
    // NOTIFY entry_ready wakes an idle worker at once; while LISTEN is deaf (behind a transaction
    // pooler without DIRECT_URL), the sweep finds the work instead.
    this.listener = new Listener(["entry_ready"], {
      name: "worker",
      fallback: `relying on the sweep every ${this.options.sweepIntervalMs} ms`,
      onNotification: () => this.wake(),
      onConnected: () => this.wake(),
    });
    this.listener.start();
    this.loopDone = this.loop();
    this.log.info({ concurrency: this.options.concurrency, stageDelayMs: this.options.stageDelayMs }, "worker started");
  }

  /**
   * Stops claiming, lets the stages in hand finish for up to shutdownGraceMs, then interrupts the
   * rest and hands their locks back, so another worker (or this one restarted) resumes them at once.
   * Called again while stopping, it cuts the grace period short.
   */
  stop(): Promise<void> {
    if (this.stopping) {
      this.interrupt();
      return this.stopping;
    }
    this.stopping = this.shutDown();
    return this.stopping;
  }

  /**
   * The spec's path for a newly created entry: claim it by id and follow it through every stage
   * (each advance claims the next stage). Returns when it is finished, failed, taken by another
   * worker, or capacity is full (then the claim loop gets it). Never rejects.
   */
  async processEntry(id: string): Promise<void> {
    try {
      await (await this.claimAndStart(1, id))?.done;
    } catch (error) {
      this.log.error({ err: error, entryId: id }, "claiming an entry by id failed; the claim loop will pick it up");
    }
  }

  private async shutDown() {
    this.running = false;
    this.wake();
    await this.listener?.stop();
    await this.loopDone;
    const finished = await this.drained(this.options.shutdownGraceMs);
    if (!finished) this.interrupt();
    // Interrupted stages hand their locks back; while the database is unreachable those writes
    // retry for a while, then give up: the locks then free themselves once this worker counts as dead.
    if (!(await this.drained(STOP_WRITES_DEADLINE_MS))) {
      this.abandoned = true;
      this.interrupt();
      await this.drained(Infinity);
    }
    clearInterval(this.aliveTimer);
    await this.within(recordWorkerStopped(this.id), 2000);
    this.log.info({ interrupted: !finished, abandoned: this.abandoned }, "worker stopped");
  }

  /** Ends the grace period now: waiting stages stop, retries and idle sleeps wake up. */
  private interrupt() {
    this.interrupted = true;
    for (const end of [...this.waits]) end();
  }

  /** New work, freed capacity or shutdown: end the idle wait now, or skip the next one. */
  private wake() {
    this.wakeRequested = true;
    this.endIdle?.();
  }

  private async loop() {
    while (this.running) {
      this.wakeRequested = false; // a wake-up from here on (even during the claim) counts
      try {
        if (await this.claimAndStart(this.options.batchSize)) continue;
      } catch (error) {
        this.log.error({ err: error }, "claiming entries failed; trying again at the next sweep");
        this.wakeRequested = false;
      }
      if (this.wakeRequested || !this.running) continue;
      await this.wait(this.options.sweepIntervalMs, (end) => (this.endIdle = end));
      this.endIdle = null;
    }
  }

  /**
   * Claims up to `n` due entries (or only entry `id`) under a fresh lock token, within the free
   * capacity, and starts their stage. `done` settles with the ids that advanced. Null when nothing
   * was claimed.
   */
  private async claimAndStart(n: number, id?: string): Promise<{ done: Promise<string[]> } | null> {
    await this.firstBeat;
    const want = Math.min(n, this.options.concurrency - this.held.size - this.reserved);
    if (want <= 0) return null;
    const token = `${this.id}#${++this.claimCount}`;
    this.reserved += want;
    let entries: ClaimedEntry[];
    try {
      entries = await this.track(claimEntries(token, this.options.lockTtlMs, want, id));
    } finally {
      this.reserved -= want;
    }
    if (entries.length === 0) return null;
    const claim: Claim = { token, entries, finishing: false, failed: new Set() };
    this.noteReclaims(entries);
    if (!this.running) {
      // Stopped while the claim was on its way: hand the entries straight back.
      await this.track(this.release(claim, entries.map((e) => e.id), "the worker is stopping"));
      return null;
    }
    for (const entry of entries) this.held.set(entry.id, claim);
    return { done: this.track(this.runClaim(claim)) };
  }

  /**
   * Runs the current stage of every entry of a claim, then writes the outcomes. Entries that move on
   * come back claimed for their next stage, which starts at once (while this claim finishes its
   * bookkeeping). Settles with every id advanced, by this claim and the ones it led to. Never rejects.
   */
  private async runClaim(claim: Claim): Promise<string[]> {
    let advanced: string[] = [];
    let chained: Promise<string[]> | null = null;
    const beat = setInterval(() => void this.keepLocksFresh(claim), Math.max(50, this.options.lockTtlMs / 3));
    try {
      const outcomes = await this.performStages(claim.entries);
      claim.finishing = true;
      const advances: Advance[] = [];
      const failures: Promise<void>[] = [];
      const interrupted: string[] = [];
      claim.entries.forEach((entry, i) => {
        if (this.held.get(entry.id) !== claim) return; // its lock was taken meanwhile (logged when found)
        const outcome = outcomes[i]!;
        if (outcome === "interrupted") interrupted.push(entry.id);
        else if (outcome instanceof Error) failures.push(this.fail(claim, entry, outcome));
        else advances.push(this.advanceOf(entry));
      });
      // While running, the advance claims each entry's next stage too (a fresh lock token).
      const nextToken = this.running ? `${this.id}#${++this.claimCount}` : undefined;
      const [written] = await Promise.all([
        this.advance(claim, advances, nextToken),
        this.release(claim, interrupted, "interrupted by shutdown"),
        ...failures,
      ]);
      advanced = written.advanced;
      if (written.claimed.length > 0) {
        const next: Claim = { token: nextToken!, entries: written.claimed, finishing: false, failed: new Set() };
        for (const entry of next.entries) this.held.set(entry.id, next);
        chained = this.runClaim(next);
      }
      await this.options.hooks?.afterWrites?.(advanced);
      this.report(advances.filter((a) => !claim.failed.has(a.entry.id)), new Set(advanced));
    } catch (error) {
      // A bug, or writes abandoned at shutdown. Either way, never leave a lock to the TTL in silence.
      const left = claim.entries.filter((e) => this.held.get(e.id) === claim).map((e) => e.id);
      if (this.abandoned) {
        this.log.warn({ entries: left.length }, "database unreachable at shutdown: these locks free themselves once this worker counts as dead");
      } else {
        this.log.error({ err: error, entries: left.length }, "a stage batch failed unexpectedly; handing its locks back");
        await this.release(claim, left, "unexpected error").catch(() => {});
      }
    } finally {
      clearInterval(beat);
      for (const entry of claim.entries) if (this.held.get(entry.id) === claim) this.held.delete(entry.id);
      this.wake(); // capacity freed
    }
    return chained ? [...advanced, ...(await chained)] : advanced;
  }

  /**
   * The stage's work for each entry of a claim. The demo simulates it with a delay, and a claim's
   * entries start together, so one wait stands for all of them (not a timer and a promise per
   * entry); FAILURE_RATE makes some fail on purpose. An entry cancelled while another holder had
   * it is not worked on: it ends as Cancelled (failStage records it).
   */
  private async performStages(entries: ClaimedEntry[]): Promise<StageOutcome[]> {
    const stageWork = this.options.hooks?.stageWork;
    if (stageWork) {
      return Promise.all(
        entries.map((entry) => (entry.cancelRequested ? new Error(CANCELLED_ERROR) : stageWork(entry).then((): StageOutcome => "done", asError))),
      );
    }
    if (this.options.stageDelayMs > 0 && entries.some((e) => !e.cancelRequested)) await this.wait(this.options.stageDelayMs);
    const { failureRate } = this.options;
    return entries.map((entry) => {
      if (entry.cancelRequested) return new Error(CANCELLED_ERROR);
      if (this.interrupted) return "interrupted";
      if (failureRate > 0 && Math.random() < failureRate) {
        return new Error(`Injected failure in ${nextStatus(entry.status)} (FAILURE_RATE=${failureRate})`);
      }
      return "done";
    });
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

  /**
   * Writes a claim's advances in one statement. Should the statement itself fail (say, one row
   * breaks a constraint), the rows are retried one by one so that one bad entry cannot hold back
   * the others; the bad one is handled as a failed stage, retried and, in the end, FAILED.
   */
  private async advance(claim: Claim, advances: Advance[], nextToken?: string): Promise<{ advanced: string[]; claimed: ClaimedEntry[] }> {
    if (advances.length === 0) return { advanced: [], claimed: [] };
    const ids = advances.map((a) => a.entry.id);
    try {
      return await this.persist(async (again) => {
        const written = await advanceEntries(claim.token, advances, nextToken);
        if (!again || written.advanced.length === advances.length) return { advanced: written.advanced, claimed: written.next };
        // An earlier try may have committed: what it recorded, and the next stages it claimed.
        const recorded = await recordedBy(claim.token, advances.map((a) => a.entry));
        return { advanced: ids.filter((id) => recorded.has(id)), claimed: nextToken ? await heldBy(nextToken, ids) : [] };
      });
    } catch (error) {
      if (this.abandoned) throw error;
      if (advances.length === 1) {
        await this.fail(claim, advances[0]!.entry, error);
        return { advanced: [], claimed: [] };
      }
      this.log.warn({ err: error, entries: advances.length }, "batch advance failed; advancing one by one");
      const each = await Promise.all(advances.map((a) => this.advance(claim, [a], nextToken)));
      return { advanced: each.flatMap((e) => e.advanced), claimed: each.flatMap((e) => e.claimed) };
    }
  }

  private async fail(claim: Claim, entry: ClaimedEntry, error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    const { maxAttempts, retryBaseMs, retryMaxMs } = this.options;
    const delay = entry.attempts < maxAttempts && !entry.cancelRequested ? retryDelayMs(entry.attempts, retryBaseMs, retryMaxMs) : null;
    const written = await this.persist(
      async (again) =>
        (await failStage(claim.token, { entry, message, retryDelayMs: delay })) ||
        (again && (await recordedBy(claim.token, [entry])).has(entry.id)),
    );
    if (written) claim.failed.add(entry.id);
    const stage = nextStatus(entry.status) ?? entry.status;
    const outcome = written ? "failed" : "lock_lost";
    metrics.stageAttempts.inc({ stage, outcome });
    metrics.stageDuration.observe({ stage, outcome }, (Date.now() - Date.parse(entry.lockedAt)) / 1000);
    this.log.warn({ entryId: entry.id, stage, attempt: entry.attempts, retryInMs: delay, err: message, written }, "stage failed");
    if (delay !== null) setTimeout(() => this.wake(), delay + 5).unref();
  }

  /** Hands locks back without finishing their stage, saying why; they resume at once elsewhere. */
  private async release(claim: Claim, ids: string[], reason: string) {
    if (ids.length === 0) return;
    const released = await this.persist(() => releaseClaim(claim.token, ids));
    this.log.warn({ entries: ids.length, released, reason, lockToken: claim.token }, "handed locks back without finishing their stage");
  }

  /**
   * Runs a guarded write until it lands, trying again while the database cannot be reached (a
   * restart, a dropped connection). Repeating is harmless: the write touches only rows that still
   * carry this claim's token, and a stage's success can be recorded once only. `again` tells the
   * write that an earlier try may have committed before its answer was lost.
   */
  private async persist<T>(write: (again: boolean) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write(attempt > 0);
      } catch (error) {
        if (!isRetryableDbError(error) || this.abandoned) throw error;
        if (attempt === 0) this.log.warn({ err: error }, "database unreachable; retrying a write until it lands");
        await this.wait(Math.min(WRITE_RETRY_MAX_MS, WRITE_RETRY_FIRST_MS * 2 ** attempt));
      }
    }
  }

  /** Keeps a claim's locks fresh while its stages run (they may outlast the TTL). */
  private async keepLocksFresh(claim: Claim) {
    if (claim.finishing) return;
    const mine = claim.entries.filter((e) => this.held.get(e.id) === claim).map((e) => e.id);
    const still = await refreshLocks(claim.token, mine).catch(() => null);
    // Unreachable database: keep working, the guarded writes decide.
    if (!still || claim.finishing) return;
    for (const id of mine) {
      if (!still.has(id) && this.held.get(id) === claim) {
        this.held.delete(id);
        this.log.warn({ entryId: id, lockToken: claim.token }, "lock taken over (an operator released it, or this worker counted as dead); dropping its stage");
      }
    }
  }

  private noteReclaims(entries: ClaimedEntry[]) {
    const holders = [...new Set(entries.flatMap((e) => (e.previousHolder ? [e.previousHolder] : [])))];
    if (holders.length === 0) return;
    const count = entries.filter((e) => e.previousHolder).length;
    metrics.lockReclaims.inc(count);
    this.log.warn({ entries: count, holders }, "reclaimed locks whose holder is dead or whose lock expired");
  }

  private report(advances: Advance[], advanced: Set<string>) {
    const now = Date.now();
    const debug = this.log.isLevelEnabled("debug");
    // Counted per (stage, outcome) group, not per entry: a batch is hundreds of entries.
    const groups = new Map<string, { stage: string; outcome: string; seconds: number[] }>();
    for (const a of advances) {
      const durationMs = now - Date.parse(a.entry.lockedAt);
      const outcome = advanced.has(a.entry.id) ? "succeeded" : "lock_lost";
      const key = `${a.to}|${outcome}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { stage: a.to, outcome, seconds: [] }));
      group.seconds.push(durationMs / 1000);
      // Per stage at debug: at thousands of stages a second, metrics are the signal, not log lines.
      if (outcome === "succeeded") {
        if (debug) this.log.debug({ entryId: a.entry.id, stage: a.to, attempt: a.entry.attempts, durationMs }, "stage completed");
      } else this.log.warn({ entryId: a.entry.id, stage: a.to }, "stage result dropped: the lock was taken over");
    }
    for (const { stage, outcome, seconds } of groups.values()) {
      metrics.stageAttempts.inc({ stage, outcome }, seconds.length);
      const durations = metrics.stageDuration.labels({ stage, outcome });
      for (const s of seconds) durations.observe(s);
    }
  }

  private async recordAlive() {
    try {
      await recordWorkerAlive(this.id, hostname(), process.pid);
      if (this.aliveFailing) this.log.info("recording this worker as alive works again");
      this.aliveFailing = false;
    } catch (error) {
      if (!this.aliveFailing) this.log.warn({ err: error }, "could not record that this worker is alive; retrying every beat");
      this.aliveFailing = true;
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => {});
    return promise;
  }

  /** Waits until nothing is in flight, for at most `ms`; false if time ran out (or stop() was called again). */
  private async drained(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.inFlight.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.within(Promise.allSettled([...this.inFlight]), left))) return false;
    }
    return true;
  }

  /** Whether `promise` settles within `ms` (an interrupt counts as time up). */
  private async within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let endWait = () => {};
    const settled = await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      this.wait(ms, (end) => (endWait = end)).then(() => false),
    ]);
    endWait();
    return settled;
  }

  /** Waits `ms`, or less if interrupt() comes first. `onStart` receives a function that ends it early. */
  private wait(ms: number, onStart?: (end: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.waits.delete(end);
        resolve();
      };
      const timer = ms === Infinity ? undefined : setTimeout(end, ms);
      this.waits.add(end);
      onStart?.(end);
    });
  }
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
