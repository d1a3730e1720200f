import { logger } from "@/lib/server/logger";
import { currentSnapshot, readChanges, visibleIn } from "@/lib/server/entries/changes";
import type { EntryRow } from "@/lib/server/entries/columns";
import { Listener, type ListenState } from "@/lib/server/listener";

// The live feed behind GET /api/entries/stream: one per web process, shared by all its SSE clients.
// Every statement that writes entries sends NOTIFY entries_changed (a statement-level trigger), so
// standalone workers' changes arrive too; on a ping the feed reads what changed since its last
// read (lib/entries.ts readChanges: by transaction snapshot, so nothing is missed or read twice)
// and hands it to every subscriber. While LISTEN is deaf — behind a transaction-mode pooler without
// DIRECT_URL — it reads every second instead, so the page's 2-second promise holds either way.
//
// Each subscriber keeps the snapshot of the moment it joined and is sent only entry versions that
// snapshot could not see: a client joining while the feed catches up on a flood is not sent the
// flood, only what changed after it connected.

export type FeedEvent = { type: "entries"; entries: EntryRow[] } | { type: "resync" };
type Deliver = (event: FeedEvent) => void;

/** More changes than this in one read and subscribers are told to refetch instead of sent them all. */
const MAX_ENTRIES_PER_READ = 1000;
/** Notifications within this window become one read (a busy worker sends many a second). */
const COALESCE_MS = 50;
/** How often a deaf feed reads on its own. */
const POLL_WHILE_DEAF_MS = 1000;

export type LiveMode = "listening" | "polling" | "starting";

interface Subscriber {
  deliver: Deliver;
  /** The database's snapshot when it joined: what it could already see is not sent to it. */
  joined: string;
}

class EntryChangeFeed {
  private readonly subscribers = new Set<Subscriber>();
  private listener: Listener | null = null;
  /** The snapshot of the last read; null while nobody subscribes. */
  private snapshot: string | null = null;
  private pending: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;

  /** How changes reach this process: notifications, its own polling (LISTEN deaf), or not yet known. */
  get mode(): LiveMode {
    const state = this.listener?.state;
    return state === "listening" ? "listening" : state === "deaf" ? "polling" : "starting";
  }

  /** Listens from the server's start (instrumentation.ts), so readiness can say how live updates arrive. */
  start() {
    if (this.listener) return;
    this.listener = new Listener(["entries_changed"], {
      name: "live feed",
      fallback: `reading changes every ${POLL_WHILE_DEAF_MS} ms instead`,
      onNotification: () => this.schedule(),
      onConnected: () => this.schedule(),
      onStateChange: (state) => this.pollWhile(state),
    });
    this.listener.start();
  }

  /** Adds a subscriber; resolves once its starting point is set: every change after that reaches it. */
  async subscribe(deliver: Deliver): Promise<() => void> {
    this.start();
    const subscriber = { deliver, joined: await currentSnapshot() };
    this.snapshot ??= subscriber.joined;
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
      // With nobody to tell, forget the position: the next subscriber starts from its own moment.
      if (this.subscribers.size === 0) this.snapshot = null;
    };
  }

  private pollWhile(state: ListenState) {
    clearInterval(this.pollTimer);
    if (state !== "deaf") return;
    this.pollTimer = setInterval(() => void this.read(), POLL_WHILE_DEAF_MS);
    this.pollTimer.unref();
  }

  private schedule() {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      void this.read();
    }, COALESCE_MS);
  }

  /** One read at a time; a read asked for meanwhile runs right after, so no notification is lost. */
  private read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.readAgain = false;
          await this.readOnce();
        } while (this.readAgain);
      } catch (error) {
        logger.warn({ err: error }, "live feed read failed; the next notification or poll reads again");
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  private async readOnce() {
    const since = this.snapshot;
    if (since === null) return;
    const changes = await readChanges(since, MAX_ENTRIES_PER_READ);
    if (this.snapshot !== since) return; // everyone left (and maybe someone came) meanwhile
    this.snapshot = changes.snapshot;
    for (const subscriber of this.subscribers) {
      if (changes.overflow) {
        subscriber.deliver({ type: "resync" });
        continue;
      }
      const entries = changes.entries
        .filter((e) => !visibleIn(subscriber.joined, e.changeTxid))
        .map(({ changeTxid: _, ...entry }) => entry);
      if (entries.length > 0) subscriber.deliver({ type: "entries", entries });
    }
  }
}

const registry = globalThis as unknown as { entryChangeFeed?: EntryChangeFeed };
export const entryChangeFeed = (registry.entryChangeFeed ??= new EntryChangeFeed());
