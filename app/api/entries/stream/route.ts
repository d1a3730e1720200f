import type { NextRequest } from "next/server";
import { currentLockRule, toEntryJson } from "@/lib/entries";
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
      // Events go out in the order the feed hands them over, each batch after the previous one.
      let sending = Promise.resolve();
      const unsubscribe = entryChangeFeed.subscribe((entries) => {
        sending = sending.then(async () => {
          const rule = await currentLockRule().catch(() => null);
          if (!rule) return;
          for (const entry of entries) {
            send(`event: entry\nid: ${entry.id}:${entry.version}\ndata: ${JSON.stringify(toEntryJson(entry, rule))}\n\n`);
          }
        });
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
