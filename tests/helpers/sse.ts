import http from "node:http";
import { waitFor } from "./server";

export interface SseEvent {
  event: string;
  id?: string;
  data: any;
  /** When it arrived (Date.now()). */
  at: number;
}

/**
 * A client of GET /api/entries/stream that keeps every event it receives. `connect` resolves once
 * the server has sent `ready`: from then on, no change is missed.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  private readonly controller = new AbortController();
  private done = false;

  static async connect(base: string): Promise<SseClient> {
    const client = new SseClient();
    // A connection of its own (agent: false): a reused keep-alive socket can be closed by the
    // server at the very moment the stream's request goes out.
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get(`${base}/api/entries/stream`, { agent: false, signal: client.controller.signal }, resolve);
      req.on("error", reject);
    });
    if (res.statusCode !== 200 || !res.headers["content-type"]?.includes("text/event-stream")) {
      res.resume();
      throw new Error(`stream answered ${res.statusCode} ${res.headers["content-type"]}`);
    }
    void client.read(res);
    await client.next((e) => e.event === "ready", 20_000);
    return client;
  }

  /** The `entry` events' entries, in order. */
  entries(): any[] {
    return this.events.filter((e) => e.event === "entry").map((e) => e.data);
  }

  next(match: (event: SseEvent) => boolean, timeoutMs = 20_000): Promise<SseEvent> {
    return waitFor(async () => this.events.find(match) ?? (this.done ? Promise.reject(new Error("stream ended")) : null), timeoutMs, 20);
  }

  close() {
    this.controller.abort();
  }

  private async read(body: AsyncIterable<Buffer>) {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => message.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const event = field("event");
          const data = field("data");
          if (event) this.events.push({ event, id: field("id"), data: data ? JSON.parse(data) : null, at: Date.now() });
        }
      }
    } catch {
      // aborted
    } finally {
      this.done = true;
    }
  }
}
