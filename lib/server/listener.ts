import { randomBytes } from "node:crypto";
import type pg from "pg";
import { createListenConnection, pool } from "@/lib/server/db";
import { logger } from "@/lib/server/logger";

// A dedicated LISTEN connection that knows whether it is heard. Through a transaction-mode pooler
// (PgBouncer, most managed services) LISTEN "succeeds" on whichever server connection ran it, and the
// notifications then go to that server connection, not to us: the connection is open, and deaf.
// So it notifies itself — on a channel of its own, through the app's pool, the path every real
// notification takes — at connect and every PROBE_INTERVAL_MS, and expects it back within
// PROBE_TIMEOUT_MS. Its users fall back to polling while it is deaf.

export type ListenState = "connecting" | "listening" | "deaf";

const PROBE_TIMEOUT_MS = 1000;
const PROBE_INTERVAL_MS = 15_000;
const RECONNECT_AFTER_MS = 1000;

export interface ListenerOptions {
  /** What listens, for the log ("worker", "live feed"). */
  name: string;
  /** What it does while deaf, for the log ("relying on the sweep every 2000 ms"). */
  fallback: string;
  onNotification: (channel: string) => void;
  /** After every (re)connection: whatever was announced meanwhile was missed, so look once. */
  onConnected?: () => void;
  onStateChange?: (state: ListenState) => void;
}

export class Listener {
  state: ListenState = "connecting";
  private running = false;
  private client: pg.Client | null = null;
  private readonly probeChannel = `aw_probe_${randomBytes(6).toString("hex")}`;
  private heard: ((nonce: string) => void) | null = null;
  private probeTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private failing = false;
  private readonly log;

  constructor(
    private readonly channels: readonly string[],
    private readonly options: ListenerOptions,
  ) {
    this.log = logger.child({ listener: options.name });
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.run();
  }

  async stop() {
    this.running = false;
    clearInterval(this.probeTimer);
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer.timer);
      this.reconnectTimer.resolve();
    }
    await this.client?.end().catch(() => {});
    await this.loopDone;
  }

  private async run() {
    while (this.running) {
      const client = createListenConnection();
      this.client = client;
      try {
        const ended = new Promise<void>((resolve) => {
          client.once("error", () => resolve());
          client.once("end", () => resolve());
        });
        await client.connect();
        client.on("notification", (n) => this.onNotification(n));
        // Channel names are this app's own constants and a random hex suffix: safe as identifiers.
        for (const channel of [...this.channels, this.probeChannel]) await client.query(`LISTEN ${channel}`);
        if (this.failing) this.log.info("LISTEN connection is back");
        this.failing = false;
        this.options.onConnected?.();
        void this.probe();
        this.probeTimer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS);
        this.probeTimer.unref();
        await ended;
        if (this.running) this.log.warn("LISTEN connection lost; reconnecting");
      } catch (error) {
        if (!this.failing && this.running) this.log.warn({ err: error }, `LISTEN connection failed; ${this.options.fallback} until it reconnects`);
        this.failing = true;
      }
      clearInterval(this.probeTimer);
      await client.end().catch(() => {});
      this.setState("connecting");
      if (this.running) await this.pause(RECONNECT_AFTER_MS);
    }
  }

  private onNotification(message: pg.Notification) {
    if (message.channel === this.probeChannel) this.heard?.(message.payload ?? "");
    else this.options.onNotification(message.channel);
  }

  /** Sends a NOTIFY to our own channel through the pool and waits for it to come back. */
  private async probe() {
    const nonce = randomBytes(6).toString("hex");
    let timer: NodeJS.Timeout | undefined;
    const heard = new Promise<boolean>((resolve) => {
      this.heard = (payload) => payload === nonce && resolve(true);
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    try {
      await pool.query("SELECT pg_notify($1, $2)", [this.probeChannel, nonce]);
    } catch {
      clearTimeout(timer);
      return; // the database is unreachable: that says nothing about whether we are heard
    }
    const ok = await heard;
    clearTimeout(timer);
    if (this.running && this.client) this.setState(ok ? "listening" : "deaf");
  }

  private setState(state: ListenState) {
    if (state === this.state) return;
    const was = this.state;
    this.state = state;
    if (state === "deaf") {
      this.log.warn(
        `LISTEN receives nothing (a transaction-mode pooler between us and PostgreSQL? set DIRECT_URL to the database itself); ${this.options.fallback}`,
      );
    } else if (state === "listening" && was === "deaf") {
      this.log.info("LISTEN receives notifications again");
    }
    this.options.onStateChange?.(state);
  }

  private pause(ms: number) {
    return new Promise<void>((resolve) => {
      this.reconnectTimer = { timer: setTimeout(resolve, ms), resolve };
    }).finally(() => (this.reconnectTimer = null));
  }
}
