import { NextResponse, type NextRequest } from "next/server";

// Runs before routing, for pages and the API alike.
export function proxy(request: NextRequest) {
  // Next.js answers a path with broken percent-encoding (e.g. /api/entries/%E0%A4%A) with a bare
  // 500 when it decodes route params; refuse it here as the client error it is.
  try {
    decodeURIComponent(request.nextUrl.pathname);
  } catch {
    return NextResponse.json(
      { error: { code: "bad_request", message: "The URL path is not valid percent-encoded UTF-8" } },
      { status: 400 },
    );
  }
  if (request.nextUrl.pathname.startsWith("/api/") || request.nextUrl.pathname === "/api") {
    return NextResponse.next(); // API answers get a fixed deny-all policy from next.config.ts
  }
  return withContentSecurityPolicy(request);
}

// A fresh nonce per page request: Next.js puts it on the inline scripts it renders, so no other
// inline script can run.
function withContentSecurityPolicy(request: NextRequest) {
  const nonce = Buffer.from(crypto.randomUUID()).toString("base64");
  const isDev = process.env.NODE_ENV === "development";
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${isDev ? " 'unsafe-eval'" : ""}`,
    // Style attributes (progress bars, Radix positioning, toasts) cannot carry nonces.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");

  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("Content-Security-Policy", policy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("Content-Security-Policy", policy);
  return response;
}

export const config = {
  matcher: ["/((?!_next/static|_next/image|favicon.ico|icon.svg).*)"],
};
