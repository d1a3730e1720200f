import type { NextRequest } from "next/server";
import { currentLockRule, toEntryJson } from "@/lib/server/entries/json";
import { entryChangeFeed, type FeedEvent } from "@/lib/server/live-feed";

export const dynamic = "force-dynamic";

/** A `ping` this often, so a client can tell a quiet stream from a dead one (EventSource hides comments). */
const HEARTBEAT_MS = 2000;
/** A client this far behind in reading stops getting entries and gets one `resync` once it catches up. */
const BEHIND_BYTES = 1024 * 1024;

// GET /api/entries/stream – Server-Sent Events: `ready` once (heartbeat period, how changes reach
// this server), then an `entry` event for every changed entry version, `resync` when more changed
// than is worth sending (refetch the list), and `ping` every HEARTBEAT_MS.
export function GET(req: NextRequest) {
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        let closed = false;
        let behind = false;
        const send = (text: string) => {
          if (closed) return;
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            cleanup();
          }
        };
        // Past BEHIND_BYTES unread, entries are dropped; the client refetches once it reads again.
        const keepingUp = () => {
          const queued = -(controller.desiredSize ?? 0);
          if (!behind && queued > BEHIND_BYTES) behind = true;
          if (behind && queued <= 0) {
            behind = false;
            send(`event: resync\ndata: {}\n\n`);
          }
          return !behind;
        };
        // Events go out in the order the feed hands them over, each after the previous one.
        let sending = Promise.resolve();
        const deliver = (event: FeedEvent) => {
          sending = sending.then(async () => {
            if (!keepingUp()) return;
            if (event.type === "resync") return send(`event: resync\ndata: {}\n\n`);
            const rule = await currentLockRule();
            for (const entry of event.entries) {
              send(`event: entry\nid: ${entry.id}:${entry.version}\ndata: ${JSON.stringify(toEntryJson(entry, rule))}\n\n`);
            }
          }).catch(() => send(`event: resync\ndata: {}\n\n`));
        };
        let unsubscribe = () => {};
        const heartbeat = setInterval(() => keepingUp() && send(`event: ping\ndata: {}\n\n`), HEARTBEAT_MS);
        cleanup = () => {
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
        };
        req.signal.addEventListener("abort", () => {
          cleanup();
          try {
            controller.close();
          } catch {}
        });
        try {
          unsubscribe = await entryChangeFeed.subscribe(deliver);
        } catch {
          // The database is unreachable: the client retries in 2 s (and polls meanwhile).
          send(`retry: 2000\n\n`);
          cleanup();
          controller.close();
          return;
        }
        if (closed) return unsubscribe();
        send(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ heartbeatMs: HEARTBEAT_MS, mode: entryChangeFeed.mode })}\n\n`);
      },
      cancel() {
        cleanup();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );
  return new Response(stream, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    },
  });
}
