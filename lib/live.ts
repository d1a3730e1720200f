import type pg from "pg";
import { createListenConnection } from "@/lib/db";
import { listChangedSince, type Entry } from "@/lib/entries";
import { logger } from "@/lib/logger";

// The live feed behind GET /api/entries/stream. One LISTEN connection per web process, shared by
// all its SSE clients: every statement that writes entries sends NOTIFY entries_changed (a
// trigger), so standalone workers' changes arrive too. On a ping the feed reads what changed by
// updatedAt and hands each changed entry to every subscriber.

type Listener = (entries: Entry[]) => void;

// updatedAt is the time a transaction *started*; one that commits late can carry an earlier time
// than changes already sent. Re-reading this far back, and skipping versions already sent, keeps
// such changes from being missed.
const OVERLAP_MS = 2000;
const BATCH = 500;

class EntryChangeFeed {
  private readonly listeners = new Set<Listener>();
  private client: pg.Client | null = null;
  private since = new Date();
  private readonly sent = new Map<string, { version: number; at: number }>();
  private pending: NodeJS.Timeout | null = null;
  private reading = false;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) void this.connect();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.disconnect();
    };
  }

  private async connect() {
    this.since = new Date(Date.now() - OVERLAP_MS);
    const client = createListenConnection();
    this.client = client;
    client.on("notification", () => this.schedule());
    client.on("error", (error) => {
      logger.warn({ err: error }, "live feed connection lost; reconnecting");
      if (this.client === client) {
        this.client = null;
        setTimeout(() => this.listeners.size > 0 && !this.client && void this.connect(), 1000).unref();
      }
    });
    try {
      await client.connect();
      await client.query("LISTEN entries_changed");
    } catch (error) {
      client.emit("error", error);
    }
  }

  private async disconnect() {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  /** Coalesces bursts of notifications (a busy worker sends many a second) into one read. */
  private schedule() {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      void this.read();
    }, 50);
  }

  private async read() {
    if (this.reading) return this.schedule();
    this.reading = true;
    try {
      for (;;) {
        const changed = await listChangedSince(new Date(this.since.getTime() - OVERLAP_MS), BATCH);
        const fresh = changed.filter((e) => (this.sent.get(e.id)?.version ?? -1) < e.version);
        const now = Date.now();
        for (const e of fresh) this.sent.set(e.id, { version: e.version, at: now });
        const newest = changed.at(-1)?.updatedAt;
        if (newest && newest > this.since) this.since = newest;
        if (fresh.length > 0) for (const listener of this.listeners) listener(fresh);
        if (changed.length < BATCH || fresh.length === 0) break;
      }
      // Forget what is older than the overlap window: it cannot be read again.
      for (const [id, { at }] of this.sent) if (at < Date.now() - 4 * OVERLAP_MS) this.sent.delete(id);
    } catch (error) {
      logger.warn({ err: error }, "live feed read failed");
    } finally {
      this.reading = false;
    }
  }
}

const registry = globalThis as unknown as { entryChangeFeed?: EntryChangeFeed };
export const entryChangeFeed = (registry.entryChangeFeed ??= new EntryChangeFeed());
