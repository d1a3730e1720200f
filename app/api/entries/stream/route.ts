import type { NextRequest } from "next/server";
import { config } from "@/lib/config";
import { toEntryJson } from "@/lib/entries";
import { entryChangeFeed } from "@/lib/live";

export const dynamic = "force-dynamic";

const KEEPALIVE_MS = 15_000;

// GET /api/entries/stream – Server-Sent Events: one `entry` event per changed entry, live
export function GET(req: NextRequest) {
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup();
        }
      };
      // Tell EventSource how soon to reconnect, and that the stream is open.
      send(`retry: 2000\n: connected\n\n`);
      const unsubscribe = entryChangeFeed.subscribe((entries) => {
        for (const entry of entries) {
          send(`event: entry\nid: ${entry.id}:${entry.version}\ndata: ${JSON.stringify(toEntryJson(entry, config.LOCK_TTL_MS))}\n\n`);
        }
      });
      const keepalive = setInterval(() => send(`: keepalive\n\n`), KEEPALIVE_MS);
      cleanup = () => {
        clearInterval(keepalive);
        unsubscribe();
      };
      req.signal.addEventListener("abort", () => {
        cleanup();
        try {
          controller.close();
        } catch {}
      });
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(stream, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    },
  });
}
