import http from "node:http";
import net from "node:net";
import { config } from "@/lib/server/config";

// Who is this client? The one answer every per-client rule uses (the rate limit, idempotency keys).
//
// By default: the address of the peer that connected to us. Nothing a client writes counts: a
// client can put any X-Forwarded-For or X-Real-IP in its request. Behind proxies of our own,
// TRUST_PROXY_HOPS says how many there are (Express calls it "trust proxy"): each appends the
// address it received the request from to X-Forwarded-For, so the client is the hop just left of
// those proxies, counting from the right. Hops further left were written by the client and are
// never read.
//
// Next.js does not tell a route handler who connected (it copies the socket's address into
// X-Forwarded-For only when the request has none). So the server process records it itself, in a
// header it always overwrites, before Next.js sees the request: see recordPeerAddresses.

/** Set on every incoming request to the connecting socket's address; anything a client sent under this name is replaced. */
const PEER_HEADER = "x-async-workflow-peer";

/**
 * Makes every HTTP server in this process write the connecting peer's address into PEER_HEADER.
 * Called once from instrumentation.ts, before requests are served.
 */
export function recordPeerAddresses() {
  const server = http.Server.prototype as http.Server & { [recorded]?: true };
  if (server[recorded]) return;
  server[recorded] = true;
  const emit = server.emit as (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === "request") {
      const req = args[0] as http.IncomingMessage;
      req.headers[PEER_HEADER] = req.socket.remoteAddress ?? "";
    }
    return emit.call(this, event, ...args);
  } as typeof server.emit;
}
const recorded = Symbol.for("async-workflow.peer-addresses");

/** An address as one key: IPv4-mapped IPv6 as IPv4, brackets and ports dropped; null if not an IP at all. */
function normalize(hop: string): string | null {
  let address = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"));
  if (address.toLowerCase().startsWith("::ffff:") && net.isIPv4(address.slice(7))) address = address.slice(7);
  return net.isIP(address) ? address.toLowerCase() : null;
}

/**
 * The client's address, by the rule above. `trustProxyHops` proxies of ours stand between the
 * client and us. Falls back to the peer (never to a value the client wrote) when the trusted
 * hop is missing or is not an address.
 */
export function clientAddress(headers: Headers, trustProxyHops = config.TRUST_PROXY_HOPS): string {
  const peer = normalize(headers.get(PEER_HEADER) ?? "") ?? "unknown";
  if (trustProxyHops === 0) return peer;
  // The chain as our nearest proxy saw it: X-Forwarded-For, then the proxy that connected to us.
  const hops = (headers.get("x-forwarded-for") ?? "").split(",").filter((h) => h.trim() !== "");
  const chain = [...hops, peer];
  const client = chain.length > trustProxyHops ? chain[chain.length - 1 - trustProxyHops] : undefined;
  if (client !== undefined) return normalize(client) ?? peer;
  // A proxy that sends X-Real-IP (its own peer) instead of X-Forwarded-For.
  return normalize(headers.get("x-real-ip") ?? "") ?? peer;
}
